"""Burst, queue and quantum formulas of the tc backend."""
from netqos.agent.tc import maths


def test_units():
    assert maths.kbit_to_bytes_per_s(8) == 1000          # 8 kbit/s = 1000 bytes/s
    assert maths.kbit_to_bytes(80) == 10_000
    assert maths.bytes_in_ms(1_250_000, 20) == 25_000    # 10 Mbit/s for 20 ms


def test_default_burst_never_below_frames_and_scales_with_rate():
    one_mbit = maths.kbit_to_bytes_per_s(1000)
    assert one_mbit // 250 < maths.FRAME_BYTES           # rate/HZ would be under a frame
    assert maths.default_burst_bytes(one_mbit) == 2 * maths.FRAME_BYTES
    gbit = maths.kbit_to_bytes_per_s(1_000_000)
    assert maths.default_burst_bytes(gbit) == gbit * maths.BURST_MS // 1000


def test_given_burst_is_used_but_floored_at_one_frame():
    rate = maths.kbit_to_bytes_per_s(10_000)
    assert maths.burst_bytes(rate, 800) == 100_000
    assert maths.burst_bytes(rate, 1) == maths.FRAME_BYTES


def test_queue_is_short_at_high_rates_and_a_few_frames_at_low():
    ten = maths.kbit_to_bytes_per_s(10_000)
    assert maths.queue_limit_bytes(ten) * 1000 // ten <= 50          # ms of queue
    one = maths.kbit_to_bytes_per_s(1000)
    assert maths.queue_limit_bytes(one) == maths.MIN_QUEUE_FRAMES * maths.FRAME_BYTES


def test_htb_quantum_is_clamped():
    assert maths.htb_quantum_bytes(1000) == maths.HTB_MIN_QUANTUM_BYTES
    assert maths.htb_quantum_bytes(10**9) == maths.HTB_MAX_QUANTUM_BYTES


def test_buffer_ticks_round_trip():
    # TBF shows 5000 bytes at 10 Mbit/s as 62500 ticks of 64 ns (4 ms)
    assert maths.tbf_buffer_bytes(62_500, 1_250_000) == 5000


def test_pps_burst():
    assert maths.pps_burst_packets(100, 0) == 5
    assert maths.pps_burst_packets(100_000, 0) == 1000
    assert maths.pps_burst_packets(100_000, 3) == 3000


def test_close_enough():
    assert maths.close_enough(1010, 1000) and not maths.close_enough(1100, 1000)
    assert maths.close_enough(0, 0) and not maths.close_enough(1, 0)


def test_the_limit_holds_the_burst_and_the_queue_behind_it():
    ten = maths.kbit_to_bytes_per_s(10_000)
    big_burst = maths.burst_bytes(ten, 1000)          # 1 Mbit of burst: 125000 B
    assert big_burst == 125_000
    # A limit below the burst starved TCP to 58 kbit/s at 10 Mbit/s (measured).
    assert maths.limiter_limit_bytes(ten, big_burst) == 125_000 + maths.queue_limit_bytes(ten)


def test_a_one_percent_rate_change_is_a_change_but_bucket_rounding_is_not():
    ten = maths.kbit_to_bytes_per_s(10_000)
    assert not maths.same_rate(ten, maths.kbit_to_bytes_per_s(10_100))
    assert maths.same_rate(ten, ten)
    assert maths.close_enough(12_498, 12_500)      # how tc reads a 12500 B bucket back
