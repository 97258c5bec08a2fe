"""What clients probe before they use the API: versions, the resource index, extensions,
rule types."""
from __future__ import annotations

import pytest

from tests.api.conftest import assert_error

TYPES = {"bandwidth_limit", "dscp_marking", "minimum_bandwidth", "minimum_packet_rate",
         "packet_rate_limit"}
NEEDED_EXTENSIONS = {"qos", "qos-default", "qos-rules-alias", "qos-rule-type-details",
                     "qos-bw-limit-direction", "qos-bw-minimum-ingress", "qos-pps",
                     "qos-pps-minimum", "standard-attr-revisions", "revision-if-match",
                     "sorting", "pagination", "filter-validation", "project-id"}


def test_versions(api, api_server):
    resp = api.get("/")
    assert resp.status_code == 200
    versions = resp.json()["versions"]
    assert [v["id"] for v in versions] == ["v2.0"]
    assert versions[0]["status"] == "CURRENT"
    hrefs = [link["href"] for link in versions[0]["links"] if link["rel"] == "self"]
    assert hrefs == [api_server.url + "/v2.0/"]


@pytest.mark.parametrize("path", ["/v2.0", "/v2.0/"])
def test_resource_index(api, path):
    resp = api.get(path)
    assert resp.status_code == 200
    names = {r["name"] for r in resp.json()["resources"]}
    assert {"qos/policies", "qos/rule-types", "extensions"} <= names


def test_extensions(api):
    resp = api.get("/v2.0/extensions")
    assert resp.status_code == 200
    exts = resp.json()["extensions"]
    aliases = {e["alias"] for e in exts}
    assert NEEDED_EXTENSIONS <= aliases
    for e in exts:
        assert {"alias", "name", "description", "updated", "links"} <= set(e)
    one = api.get("/v2.0/extensions/qos")
    assert one.status_code == 200 and one.json()["extension"]["alias"] == "qos"
    assert_error(api.get("/v2.0/extensions/no-such-thing"), 404)


def test_rule_types_default_list(api):
    resp = api.get("/v2.0/qos/rule-types")
    assert resp.status_code == 200
    listed = resp.json()["rule_types"]
    assert all(set(entry) == {"type"} for entry in listed)
    names = [e["type"] for e in listed]
    assert len(names) == len(set(names)) and set(names) <= TYPES
    # Each backend's support covers the default list (the intersection).
    supported = {e["type"] for e in api.get("/v2.0/qos/rule-types",
                                            params={"all_supported": "true"}).json()["rule_types"]}
    assert set(names) <= supported


def test_rule_types_all_rules_and_all_supported(api):
    every = api.get("/v2.0/qos/rule-types", params={"all_rules": "true"})
    assert every.status_code == 200
    assert {e["type"] for e in every.json()["rule_types"]} == TYPES
    supported = api.get("/v2.0/qos/rule-types", params={"all_supported": "True"})
    assert supported.status_code == 200
    assert {e["type"] for e in supported.json()["rule_types"]} <= TYPES
    off = api.get("/v2.0/qos/rule-types", params={"all_rules": "false"})
    assert off.json() == api.get("/v2.0/qos/rule-types").json()
    # Both at once, as Neutron answers: every known type (a superset of the supported).
    both = api.get("/v2.0/qos/rule-types", params={"all_rules": "true", "all_supported": "true"})
    assert both.status_code == 200 and both.json() == every.json()


@pytest.mark.parametrize("params", [{"all_rules": "maybe"}, {"all_supported": "2"}])
def test_rule_types_bad_filters(api, params):
    assert_error(api.get("/v2.0/qos/rule-types", params=params), 400)


@pytest.mark.parametrize("rule_type", sorted(TYPES))
def test_rule_type_detail(api, rule_type):
    resp = api.get(f"/v2.0/qos/rule-types/{rule_type}")
    assert resp.status_code == 200, resp.text
    detail = resp.json()["rule_type"]
    assert detail["type"] == rule_type
    assert isinstance(detail["drivers"], list)
    for driver in detail["drivers"]:
        assert isinstance(driver["name"], str) and driver["name"]
        for param in driver["supported_parameters"]:
            assert param["parameter_type"] in ("range", "choices")
            if param["parameter_type"] == "range":
                assert set(param["parameter_values"]) == {"start", "end"}
            else:
                assert isinstance(param["parameter_values"], list)


def test_rule_type_detail_of_a_supported_type_names_drivers(api):
    supported = [e["type"] for e in api.get("/v2.0/qos/rule-types").json()["rule_types"]]
    assert supported, "no rule type is supported by every loaded backend"
    detail = api.get(f"/v2.0/qos/rule-types/{supported[0]}").json()["rule_type"]
    assert detail["drivers"]
    params = {p["parameter_name"] for d in detail["drivers"] for p in d["supported_parameters"]}
    assert params


@pytest.mark.parametrize("name", ["bogus", "bandwidth-limit", "BANDWIDTH_LIMIT"])
def test_unknown_rule_type_is_404(api, name):
    assert_error(api.get(f"/v2.0/qos/rule-types/{name}"), 404)


def test_rule_types_wrong_method(api):
    assert_error(api.post("/v2.0/qos/rule-types", json={}), 405)
    assert_error(api.delete("/v2.0/qos/rule-types/bandwidth_limit"), 405)
