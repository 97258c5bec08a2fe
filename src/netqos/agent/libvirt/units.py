"""Exact unit conversions between the API and libvirt's <bandwidth>.

API (Neutron): rates in kbit/s (1000 bit/s), bursts in kbit (1000 bit).
libvirt: `average`/`peak` in kilobytes/s (1000 bytes/s: libvirt writes them to tc as
"kbps", which tc reads as 1000 bytes/s), `burst` in KiB (1024 bytes).

To libvirt, values round half up (libvirt takes integers); a non-zero value never becomes 0,
which libvirt reads as "no limit". Back from libvirt, conversions are exact.
"""
from __future__ import annotations

from fractions import Fraction


def _round_half_up(value: Fraction) -> int:
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


def kbit_per_s_to_kilobytes_per_s(kbps: int) -> int:
    """10000 kbit/s -> 1250 kB/s (a kB is 8 kbit)."""
    if kbps <= 0:
        return 0
    return max(1, _round_half_up(Fraction(kbps, 8)))


def kilobytes_per_s_to_kbit_per_s(kilobytes: int) -> int:
    """1250 kB/s -> 10000 kbit/s."""
    return kilobytes * 8


def kbit_to_kib(kbit: int) -> int:
    """A burst: 1000 bits per kbit, 8192 bits per KiB -> 8192 kbit = 1000 KiB."""
    if kbit <= 0:
        return 0
    return max(1, _round_half_up(Fraction(kbit * 1000, 8 * 1024)))


def kib_to_kbit(kib: int) -> Fraction:
    """1000 KiB -> 8192 kbit (exact; may be fractional: 1 KiB = 8.192 kbit)."""
    return Fraction(kib * 8 * 1024, 1000)
