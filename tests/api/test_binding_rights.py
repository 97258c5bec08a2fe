"""Who may set each binding attribute, as Neutron's default policy says (judged by the key's
presence, whatever its value): the full matrix of attribute x value x role x create/update.

binding:host_id and binding:profile: admin (or the service role) only; binding:vnic_type:
any member of the port's project (Neutron 2026.x: ADMIN_OR_PROJECT_MEMBER or SERVICE)."""
from __future__ import annotations

import pytest

from tests.api.conftest import assert_error, new_project, who
from tests.api.helpers_core import PORTS, core, ok, unique

__all__ = ["core"]  # the fixture, imported for pytest

ADMIN_ONLY = {
    "binding:host_id": ["host-real", "", None],
    "binding:profile": [{"pci_slot": "0000:05:00.1"}, {}, None],
}
MEMBER_MAY = {"binding:vnic_type": ["normal", "direct"]}
CASES = [(attr, value) for attr, values in ADMIN_ONLY.items() for value in values]


def _value(attr: str, value):
    # A real host name per test, so no test's port lands on another test's host.
    return unique("host") if attr == "binding:host_id" and value == "host-real" else value


@pytest.fixture
def member_net(core):
    project = new_project()
    headers = who(project, "member")
    return headers, core.network(headers=headers)


@pytest.mark.parametrize("attr,value", CASES)
def test_member_may_not_create_with(api, member_net, attr, value):
    headers, net = member_net
    body = {"network_id": net["id"], attr: _value(attr, value)}
    assert_error(api.post(PORTS, json={"port": body}, headers=headers), 403,
                 "PolicyNotAuthorized", f"create_port:{attr}")


@pytest.mark.parametrize("attr,value", CASES)
def test_member_may_not_update_with(core, member_net, attr, value):
    headers, net = member_net
    port = core.port(net, headers=headers)
    assert_error(core.update(PORTS, port["id"], "port", headers=headers,
                             **{attr: _value(attr, value)}),
                 403, "PolicyNotAuthorized", f"update_port:{attr}")


@pytest.mark.parametrize("role", ["admin", "service"])
@pytest.mark.parametrize("attr,value", CASES)
def test_admin_and_service_may_set(core, member_net, role, attr, value):
    headers, net = member_net
    project = headers["X-Project-Id"]
    privileged = who(project, role, "member")
    value = _value(attr, value)
    port = core.port(net, headers=privileged, **{attr: value})
    expected = value if value is not None else ("" if attr == "binding:host_id" else {})
    assert port[attr] == expected
    updated = ok(core.update(PORTS, port["id"], "port", headers=privileged,
                             **{attr: value}))["port"]
    assert updated[attr] == expected


@pytest.mark.parametrize("attr,value", [(a, v) for a, vs in MEMBER_MAY.items() for v in vs])
def test_member_may_set_vnic_type(core, member_net, attr, value):
    headers, net = member_net
    port = core.port(net, headers=headers, **{attr: value})
    assert port[attr] == value
    assert ok(core.update(PORTS, port["id"], "port", headers=headers,
                          **{attr: "normal"}))["port"][attr] == "normal"


def test_reader_may_set_nothing(api, core, member_net):
    headers, net = member_net
    reader = who(headers["X-Project-Id"], "reader")
    port = core.port(net, headers=headers)
    assert_error(core.update(PORTS, port["id"], "port", headers=reader,
                             **{"binding:vnic_type": "normal"}), 403)
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"],
                                                "binding:vnic_type": "normal"}},
                          headers=reader), 403)


def test_member_cannot_switch_off_its_qos_by_unbinding(api, core, member_net):
    """The issue's exploit: a member empties the host an admin bound its port to."""
    headers, net = member_net
    host = unique("host")
    port = core.port(net, headers=who(headers["X-Project-Id"], "admin"), host=host)
    for attr, empty in (("binding:host_id", ""), ("binding:profile", {})):
        assert_error(core.update(PORTS, port["id"], "port", headers=headers,
                                 **{attr: empty}), 403, "PolicyNotAuthorized")
    assert ok(api.get(f"{PORTS}/{port['id']}"))["port"]["binding:host_id"] == host


def test_refusal_names_every_rule_as_neutron_does(api, member_net):
    headers, net = member_net
    body = {"network_id": net["id"], "binding:host_id": "h", "binding:profile": {},
            "binding:vnic_type": "normal"}
    err = assert_error(api.post(PORTS, json={"port": body}, headers=headers), 403,
                       "PolicyNotAuthorized")
    assert err["message"] == (
        "(((rule:create_port and rule:create_port:binding:host_id) and "
        "rule:create_port:binding:profile) and rule:create_port:binding:vnic_type) "
        "is disallowed by policy")


# -- addresses: the network's owner chooses them (create_port:mac_address, ...) ---------

@pytest.fixture
def shared_net(core):
    """An admin's network shared with everyone, with one subnet, and a member elsewhere."""
    net = core.network(shared=True)
    subnet = core.subnet(net, cidr="198.18.246.0/24")
    return who(new_project(), "member"), net, subnet


@pytest.mark.parametrize("attrs,rule", [
    ({"mac_address": "fa:16:3e:46:00:01"}, "create_port:mac_address"),
    ({"fixed_ips": [{"ip_address": "198.18.246.20"}]}, "create_port:fixed_ips:ip_address"),
    ({"allowed_address_pairs": [{"ip_address": "10.0.0.1"}]},
     "create_port:allowed_address_pairs"),
])
def test_tenant_on_a_shared_network_may_not_choose_addresses(api, shared_net, attrs, rule):
    member, net, _ = shared_net
    assert_error(api.post(PORTS, json={"port": {"network_id": net["id"], **attrs}},
                          headers=member), 403, "PolicyNotAuthorized", rule)


def test_tenant_on_a_shared_network_may_pick_the_subnet(core, shared_net):
    member, net, subnet = shared_net
    port = core.port(net, headers=member, fixed_ips=[{"subnet_id": subnet["id"]}])
    assert [ip["subnet_id"] for ip in port["fixed_ips"]] == [subnet["id"]]
    assert_error(core.update(PORTS, port["id"], "port", headers=member,
                             fixed_ips=[{"subnet_id": subnet["id"],
                                         "ip_address": "198.18.246.30"}]),
                 403, "PolicyNotAuthorized", "update_port:fixed_ips")


def test_network_owner_may_choose_addresses(core, member_net):
    headers, net = member_net
    subnet = core.subnet(net, headers=headers, cidr="198.18.245.0/24")
    port = core.port(net, headers=headers, mac_address="fa:16:3e:45:00:01",
                     fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "198.18.245.9"}],
                     allowed_address_pairs=[{"ip_address": "10.0.0.1"}])
    assert port["mac_address"] == "fa:16:3e:45:00:01"
    assert [ip["ip_address"] for ip in port["fixed_ips"]] == ["198.18.245.9"]
