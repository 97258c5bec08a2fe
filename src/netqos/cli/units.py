"""Human units for the CLI: rates, bursts, packet rates and DSCP names.

On the wire (Neutron): bandwidth in kbit/s, burst in kbit, packet rates in kpps, all
integers. People write `100mbit`, `2mbit`, `1gbit`, `500kbit`, `10kpps`, `AF31`.
Units are decimal (1 kbit = 1000 bit), as in tc and Neutron. A bare number is already in
the wire unit (kbit, kpps). `100mbps` is refused: in tc it means megabytes per second, so
rather than guess we ask for `mbit` (bits) or `mbyte` (bytes).
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BIT_UNITS = {"": 1, "bit": Decimal("0.001"), "k": 1, "kbit": 1, "m": 1000, "mbit": 1000,
              "g": 10**6, "gbit": 10**6, "t": 10**9, "tbit": 10**9,
              # bytes, for people who think in them (1 byte = 8 bit)
              "byte": Decimal("0.008"), "kbyte": 8, "mbyte": 8000, "gbyte": 8 * 10**6}
_PKT_UNITS = {"": 1, "pps": Decimal("0.001"), "p": Decimal("0.001"),
              "kpps": 1, "kp": 1, "k": 1, "mpps": 1000, "mp": 1000, "m": 1000}
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z/]*)\s*$")

DSCP_VALUES = (0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 44, 46,
               48, 56)
DSCP_NAMES: dict[str, int] = {f"CS{n}": 8 * n for n in range(8)}
DSCP_NAMES.update({f"AF{c}{d}": 8 * c + 2 * d for c in range(1, 5) for d in range(1, 4)})
DSCP_NAMES.update({"EF": 46, "VA": 44, "VOICE-ADMIT": 44, "BE": 0, "DEFAULT": 0})
# The name shown for a value: the conventional one (CS0 for 0, VA for 44).
_DSCP_SHOW = {v: k for k, v in reversed(list(DSCP_NAMES.items()))
              if k not in ("BE", "DEFAULT", "VOICE-ADMIT")}


class UnitError(ValueError):
    """A value the user typed that is not a valid quantity; the message says why."""


def _parse(text: str, units: dict, what: str, examples: str) -> int:
    raw = str(text).strip().lower().replace("/s", "")
    m = _NUMBER.match(raw)
    if not m:
        raise UnitError(f"{text!r} is not a {what} (examples: {examples})")
    number, unit = m.groups()
    if unit.endswith("bps") and units is _BIT_UNITS:
        raise UnitError(f"{text!r} is ambiguous: tc reads 'bps' as bytes per second; write "
                        f"{number}{unit[:-3] or ''}bit for bits or {number}{unit[:-3]}byte "
                        f"for bytes per second")
    if unit.endswith("bits"):
        unit = unit[:-1]
    if unit not in units:
        raise UnitError(f"{text!r}: unknown unit {unit!r} for a {what} (examples: {examples})")
    try:
        value = Decimal(number) * units[unit]
    except InvalidOperation:  # pragma: no cover - the regex already vetted it
        raise UnitError(f"{text!r} is not a number") from None
    if value != value.to_integral_value():
        wire = "kbit" if units is _BIT_UNITS else "kpps"
        raise UnitError(f"{text!r} is not a whole number of {wire} (the API's unit)")
    return int(value)


def parse_rate(text: str) -> int:
    """'100mbit' -> 100000 (kbit/s). A bare number is kbit/s."""
    return _parse(text, _BIT_UNITS, "bit rate", "100mbit, 1gbit, 500kbit, 2.5mbit")


def parse_burst(text: str) -> int:
    """'2mbit' -> 2000 (kbit). Same units as rates."""
    return _parse(text, _BIT_UNITS, "burst size", "2mbit, 500kbit, 64kbyte")


def parse_pps(text: str) -> int:
    """'10kpps' -> 10 (kpps). A bare number is kpps."""
    return _parse(text, _PKT_UNITS, "packet rate", "10kpps, 1mpps, 5000pps")


def parse_dscp(text: str) -> int:
    """'AF31' -> 26, '26' -> 26, 'ef' -> 46; refuses values Neutron does not allow."""
    raw = str(text).strip().upper()
    if raw.isdigit():
        value = int(raw)
    elif raw in DSCP_NAMES:
        value = DSCP_NAMES[raw]
    else:
        raise UnitError(f"{text!r} is not a DSCP mark: use a name (AF11..AF43, CS0..CS7, EF) "
                        f"or one of {', '.join(map(str, DSCP_VALUES))}")
    if value not in DSCP_VALUES:
        raise UnitError(f"DSCP {value} is not allowed; allowed: "
                        f"{', '.join(map(str, DSCP_VALUES))}")
    return value


def _fmt(value: int, steps: tuple[tuple[int, str], ...]) -> str:
    for factor, unit in steps:
        if value and value % factor == 0:
            return f"{value // factor}{unit}"
    return f"{value}{steps[-1][1]}"


def format_rate(kbps: int | None) -> str:
    """100000 -> '100mbit' (exact: parse_rate(format_rate(x)) == x)."""
    if kbps is None:
        return ""
    return _fmt(int(kbps), ((10**6, "gbit"), (1000, "mbit"), (1, "kbit")))


def format_pps(kpps: int | None) -> str:
    if kpps is None:
        return ""
    return _fmt(int(kpps), ((1000, "mpps"), (1, "kpps")))


def format_dscp(mark: int | None) -> str:
    """26 -> 'AF31 (26)'."""
    if mark is None:
        return ""
    name = _DSCP_SHOW.get(int(mark))
    return f"{name} ({mark})" if name else str(mark)


def human_bps(bps: float | None) -> str:
    """A measured rate in bit/s, rounded for reading: 9.61mbit, 830kbit, 12bit."""
    if bps is None:
        return ""
    for factor, unit in ((1e9, "gbit"), (1e6, "mbit"), (1e3, "kbit")):
        if bps >= factor:
            return f"{bps / factor:.3g}{unit}"
    return f"{bps:.0f}bit"


def human_pps(pps: float | None) -> str:
    if pps is None:
        return ""
    for factor, unit in ((1e6, "mpps"), (1e3, "kpps")):
        if pps >= factor:
            return f"{pps / factor:.3g}{unit}"
    return f"{pps:.0f}pps"


def human_bytes(n: int | None) -> str:
    if n is None:
        return ""
    for factor, unit in ((1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= factor:
            return f"{n / factor:.3g}{unit}"
    return f"{n}B"
