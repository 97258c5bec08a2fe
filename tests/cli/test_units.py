"""Human units: parse and format round-trip, and refusals that say why."""
import pytest

from netqos.cli import units


@pytest.mark.parametrize("text,kbps", [
    ("100mbit", 100_000), ("2mbit", 2000), ("1gbit", 1_000_000), ("500kbit", 500),
    ("2.5mbit", 2500), ("1500", 1500), ("10M", 10_000), ("1Gbit/s", 1_000_000),
    ("64kbyte", 512), ("1tbit", 10**9), ("8000bit", 8)])
def test_parse_rate(text, kbps):
    assert units.parse_rate(text) == kbps


@pytest.mark.parametrize("kbps", [1, 999, 1000, 1500, 100_000, 2_500_000, 10**6, 2147483647])
def test_rate_round_trip(kbps):
    assert units.parse_rate(units.format_rate(kbps)) == kbps


@pytest.mark.parametrize("bad,why", [
    ("100mbps", "ambiguous"), ("1500bit", "whole number"), ("fast", "not a bit rate"),
    ("10furlongs", "unknown unit"), ("-5mbit", "not a bit rate")])
def test_rate_refusals(bad, why):
    with pytest.raises(units.UnitError, match=why):
        units.parse_rate(bad)


@pytest.mark.parametrize("text,kpps", [("10kpps", 10), ("1mpps", 1000), ("5000pps", 5),
                                       ("7", 7)])
def test_parse_pps(text, kpps):
    assert units.parse_pps(text) == kpps
    assert units.parse_pps(units.format_pps(kpps)) == kpps


def test_dscp_names_cover_every_allowed_value():
    assert {units.parse_dscp(units.format_dscp(v).split()[0]) for v in units.DSCP_VALUES} \
        == set(units.DSCP_VALUES)
    assert units.parse_dscp("AF31") == 26 == units.parse_dscp("af31") == units.parse_dscp("26")
    assert units.parse_dscp("EF") == 46 and units.parse_dscp("CS7") == 56
    assert units.parse_dscp("AF11") == 10 and units.parse_dscp("AF43") == 38
    assert units.format_dscp(26) == "AF31 (26)" and units.format_dscp(0) == "CS0 (0)"
    for bad in ("27", "AF44", "63"):
        with pytest.raises(units.UnitError):
            units.parse_dscp(bad)
