"""Burst, queue and quantum formulas of the tc backend.

Units: rates on the wire are kbit/s (1 kbit = 1000 bit), bursts on the wire kbit; inside the
kernel, rates are bytes/s and sizes bytes. Every function name says its unit.

Why these numbers (measured on this project's machines, see shared/reference):
- A token bucket's burst must hold at least one whole frame, or TBF passes nothing (a rate/HZ
  burst is 500 bytes at 1 Mbit/s with HZ=250).
- It must also cover the time a dequeue can come late (timer slack, a busy softirq), or the
  tokens that arrive meanwhile are lost and the rate falls short at high rates. BURST_MS of
  rate covers that; it is 2.5 ticks at HZ=250.
- A bigger burst only overshoots short windows (80% of a second of rate: 1.13x at 1 Mbit/s).
- With no fq_codel on these hosts, the queue behind the limiter is ours to keep short: a
  queue holds QUEUE_MS of traffic at the limit (a ping waits at most about that long), but
  never fewer than MIN_QUEUE_FRAMES frames: a VM's TCP needs three duplicate ACKs behind a
  loss to recover without a timeout, so a queue of 3 frames held a VM's cubic flow to 0.35
  of a 1 Mbit/s limit (one RTO after another) and 8 frames to 0.94 (measured, egress via
  the IFB). Below ~6 Mbit/s this floor wins over QUEUE_MS: 97 ms of queue at 1 Mbit/s.
"""
from __future__ import annotations

ETH_HEADER_BYTES = 14
MTU_BYTES = 1500
FRAME_BYTES = MTU_BYTES + ETH_HEADER_BYTES   # a full-size frame as tc counts it: 1514 bytes

BURST_MS = 10            # ms of traffic at the limit that the bucket may hold
MIN_BURST_FRAMES = 2     # frames: one frame in flight plus one being accounted
QUEUE_MS = 20            # ms of traffic at the limit that may wait in the queue
MIN_QUEUE_FRAMES = 8     # frames

HTB_MIN_QUANTUM_BYTES = FRAME_BYTES     # below one frame HTB's round robin is unfair
HTB_MAX_QUANTUM_BYTES = 200_000         # HTB warns above this
HTB_R2Q = 10                            # HTB's own default rate-to-quantum divisor

TC_TIME_UNITS_PER_SEC = 1_000_000_000 // 64   # psched ticks per second (64 ns each)


def kbit_to_bytes_per_s(kbit_per_s: int) -> int:
    """kbit/s -> bytes/s (1 kbit = 1000 bit)."""
    return kbit_per_s * 1000 // 8


def kbit_to_bytes(kbit: int) -> int:
    """kbit -> bytes."""
    return kbit * 1000 // 8


def bytes_in_ms(rate_bytes_per_s: int, ms: int) -> int:
    """bytes that pass in `ms` milliseconds at rate_bytes_per_s."""
    return rate_bytes_per_s * ms // 1000


def default_burst_bytes(rate_bytes_per_s: int) -> int:
    """Bucket size (bytes) when the rule gives max_burst_kbps = 0.

    burst = max(BURST_MS of rate, MIN_BURST_FRAMES full frames)
    e.g. 1 Mbit/s -> 3028 B, 10 Mbit/s -> 12500 B, 1 Gbit/s -> 1.25 MB.
    """
    return max(bytes_in_ms(rate_bytes_per_s, BURST_MS), MIN_BURST_FRAMES * FRAME_BYTES)


def burst_bytes(rate_bytes_per_s: int, max_burst_kbps: int) -> int:
    """Bucket size (bytes): the rule's max_burst_kbps (kbit) if given, never below one frame."""
    if max_burst_kbps <= 0:
        return default_burst_bytes(rate_bytes_per_s)
    return max(kbit_to_bytes(max_burst_kbps), FRAME_BYTES)


def queue_limit_bytes(rate_bytes_per_s: int) -> int:
    """Queue behind the limiter (bytes): QUEUE_MS of traffic at the limit, min a few frames.

    e.g. 1 Mbit/s -> 12112 B (97 ms), 10 Mbit/s -> 25000 B (20 ms), 1 Gbit/s -> 2.5 MB (20 ms).
    """
    return max(bytes_in_ms(rate_bytes_per_s, QUEUE_MS), MIN_QUEUE_FRAMES * FRAME_BYTES)


def limiter_limit_bytes(rate_bytes_per_s: int, burst_bytes_: int) -> int:
    """All the limiter may hold (bytes): the bucket plus the queue behind it.

    TBF drops an arriving packet once its backlog passes `limit`, even while the bucket
    holds tokens for it, so a limit below the burst starves TCP: measured, 10 Mbit/s with a
    125000 B burst and a 25000 B limit passed 58 kbit/s. tc's own `latency` sizing adds the
    burst the same way (limit = rate x latency + burst). The queue delay stays QUEUE_MS
    beyond what the burst itself lets through at once.

    The fifo under an HTB class (out of the VM) gets the same size although HTB's bucket is
    tokens, not queued bytes: measured out of a VM on a loaded 2-core host (3 runs each),
    the queue alone (8 frames at 1 Mbit/s, 20 ms at 10) held 0.95-0.98 and 0.82-0.95 of the
    limit against 1.00-1.03 and 0.97-1.00 with the bucket added, because the IFB's dequeue
    comes late under CPU contention and the extra room absorbs it; the shorter queue only
    shortened a loaded ping from 55 to 35 ms (1 Mbit/s) and 22 to 11 ms (10 Mbit/s).
    Below 8 frames TCP falls apart (6 frames 0.69, 4 frames 0.66: timeouts).
    """
    return queue_limit_bytes(rate_bytes_per_s) + burst_bytes_


def htb_quantum_bytes(rate_bytes_per_s: int) -> int:
    """HTB class quantum (bytes): rate/r2q as HTB would pick, clamped so it never warns."""
    return min(max(rate_bytes_per_s // HTB_R2Q, HTB_MIN_QUANTUM_BYTES), HTB_MAX_QUANTUM_BYTES)


def tbf_buffer_bytes(buffer_ticks: int, rate_bytes_per_s: int) -> int:
    """TBF and HTB store the bucket as the time (psched ticks) it takes to send it at rate."""
    if rate_bytes_per_s <= 0:
        return 0
    return buffer_ticks * rate_bytes_per_s // TC_TIME_UNITS_PER_SEC


def default_pps_burst_packets(rate_pps: int) -> int:
    """nft limit burst (packets) when max_burst_kpps = 0: BURST_MS of packets, min 5 (nft's)."""
    return max(rate_pps * BURST_MS // 1000, 5)


def pps_burst_packets(rate_pps: int, max_burst_kpps: int) -> int:
    """nft limit burst (packets): the rule's max_burst_kpps (kilopackets) if given."""
    if max_burst_kpps <= 0:
        return default_pps_burst_packets(rate_pps)
    return max_burst_kpps * 1000


def same_rate(actual: int, wanted: int) -> bool:
    """Rates (bytes/s) read back exactly as written (tc -j and netlink carry bytes/s), so
    only a byte or two of rounding is tolerated: a limit changed by 1% must be applied."""
    return abs(actual - wanted) <= 2


def close_enough(actual: int, wanted: int, tolerance: float = 0.02) -> bool:
    """Buckets and queues come back through tc's tick tables (12500 B reads as 12498 B):
    compare sizes with a small tolerance. Rates: same_rate."""
    if wanted == 0:
        return actual == 0
    return abs(actual - wanted) <= max(tolerance * wanted, 2)
