"""Attribute conversion as Neutron validates it (netqos.qos.attributes): no server."""
from __future__ import annotations

import pytest

from netqos.qos.attributes import (ABSENT, Boolean, Choice, Dict, IntRange, InvalidAttribute,
                                   ListOf, Schema, String, Uuid)
from netqos.qos.errors import HTTPBadRequest, InvalidInput

UUID = "0b3c3a3e-6f3c-4a57-9d2b-0d0d2a3b9f10"


@pytest.mark.parametrize("value, expected", [(0, 0), (5, 5), ("7", 7), (" 8 ", 8),
                                             (3.0, 3), (2**31 - 1, 2**31 - 1)])
def test_intrange_accepts(value, expected):
    assert IntRange("max_kbps").convert(value) == expected


@pytest.mark.parametrize("value", [-1, 2**31])
def test_intrange_refuses_out_of_range_naming_the_field(value):
    with pytest.raises(InvalidAttribute) as info:
        IntRange("max_kbps").convert(value)
    assert "max_kbps" in str(info.value)
    assert info.value.type == "HTTPBadRequest"


@pytest.mark.parametrize("value", ["x", "1.5", 1.5, True, False, [], {}, None])
def test_intrange_refuses_a_non_integer_as_neutron_converts(value):
    """Neutron's convert_to_int answers InvalidInput, naming the value, not the field."""
    with pytest.raises(InvalidInput) as info:
        IntRange("max_kbps").convert(value)
    assert str(info.value) == f"Invalid input for operation: '{value}' is not an integer."
    assert info.value.type == "InvalidInput"


def test_intrange_bounds():
    mtu = IntRange("mtu", minimum=68, maximum=65535)
    assert mtu.convert(68) == 68
    for bad in (67, 65536):
        with pytest.raises(InvalidAttribute, match="mtu"):
            mtu.convert(bad)


def test_choice():
    dscp = Choice("dscp_mark", choices=(0, 26, 46))
    assert dscp.convert(26) == 26 and dscp.convert("46") == 46
    for bad in (27, "27"):
        with pytest.raises(InvalidAttribute, match="dscp_mark"):
            dscp.convert(bad)
    for bad in (True, "x", None):
        with pytest.raises(InvalidInput, match="is not an integer"):
            dscp.convert(bad)
    direction = Choice("direction", choices=("egress", "ingress"))
    assert direction.convert("ingress") == "ingress"
    with pytest.raises(InvalidAttribute):
        direction.convert("EGRESS")


@pytest.mark.parametrize("value, expected", [(True, True), (False, False), ("true", True),
                                             ("False", False), ("1", True), ("0", False),
                                             (1, True), (0, False)])
def test_boolean(value, expected):
    assert Boolean("shared").convert(value) is expected


@pytest.mark.parametrize("value", ["yes", 2, [], None, "truthy"])
def test_boolean_refuses(value):
    with pytest.raises(InvalidInput, match="cannot be converted to boolean"):
        Boolean("shared").convert(value)


def test_uuid_normalises_and_refuses():
    f = Uuid("qos_policy_id", nullable=True)
    assert f.convert(UUID.upper()) == UUID
    assert f.convert(UUID.replace("-", "")) == UUID
    assert f.convert(None) is None
    for bad in ("not-a-uuid", "", 12, ["x"]):
        with pytest.raises(InvalidAttribute, match="qos_policy_id"):
            f.convert(bad)
    with pytest.raises(InvalidAttribute, match="None"):
        Uuid("network_id").convert(None)


def test_string_dict_list():
    assert String("name").convert("x" * 255) == "x" * 255
    for bad in ("x" * 256, 5, None):
        with pytest.raises(InvalidAttribute, match="name"):
            String("name").convert(bad)
    assert Dict("binding:profile").convert({"a": 1}) == {"a": 1}
    with pytest.raises(InvalidAttribute):
        Dict("binding:profile").convert([1])
    ips = ListOf("fixed_ips", item=Dict("fixed_ip"))
    assert ips.convert([{"ip_address": "198.18.0.5"}]) == [{"ip_address": "198.18.0.5"}]
    with pytest.raises(InvalidAttribute):
        ips.convert({"ip_address": "198.18.0.5"})
    with pytest.raises(InvalidAttribute):
        ips.convert(["198.18.0.5"])


SCHEMA = Schema("network", (
    String("name", default=""),
    Uuid("qos_policy_id", default=ABSENT, nullable=True),
    IntRange("mtu", default=1500, minimum=68, maximum=65535),
    Uuid("network_id"),
    String("project_id", default=None, allow_put=False),
), read_only=frozenset({"id", "status"}))


def test_schema_create_fills_defaults_and_keeps_absent_apart_from_null():
    values = SCHEMA.for_create({"network_id": UUID})
    assert values == {"name": "", "qos_policy_id": ABSENT, "mtu": 1500, "network_id": UUID,
                      "project_id": None}
    assert SCHEMA.for_create({"network_id": UUID, "qos_policy_id": None})[
        "qos_policy_id"] is None
    assert SCHEMA.for_create({"network_id": UUID, "mtu": "9000"})["mtu"] == 9000


def test_schema_create_refuses():
    with pytest.raises(HTTPBadRequest, match="Required attribute 'network_id' not specified"):
        SCHEMA.for_create({})
    with pytest.raises(HTTPBadRequest, match="Unrecognized attribute"):
        SCHEMA.for_create({"network_id": UUID, "foo": 1})
    with pytest.raises(HTTPBadRequest, match="'id' not allowed in POST"):
        SCHEMA.for_create({"network_id": UUID, "id": UUID})


def test_schema_update_takes_only_given_values():
    assert SCHEMA.for_update({}) == {}
    assert SCHEMA.for_update({"qos_policy_id": None}) == {"qos_policy_id": None}
    assert SCHEMA.for_update({"name": "n", "mtu": 1400}) == {"name": "n", "mtu": 1400}
    for body, text in (({"project_id": "p"}, "'project_id' not allowed in PUT"),
                       ({"status": "UP"}, "'status' not allowed in PUT"),
                       ({"bar": 1}, "Unrecognized attribute")):
        with pytest.raises(HTTPBadRequest, match=text):
            SCHEMA.for_update(body)
    with pytest.raises(InvalidAttribute, match="mtu"):
        SCHEMA.for_update({"mtu": 1})
