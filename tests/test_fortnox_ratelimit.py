"""The token bucket keeps any 5-second window at or under Fortnox's 25 requests."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bokfor.fortnox.ratelimit import FORTNOX_REQUESTS, FORTNOX_WINDOW, TokenBucket
from tests.fortnox_fake import VirtualClock


def test_defaults_fit_the_sliding_window_with_margin():
    bucket = TokenBucket()
    assert (bucket.rate, bucket.burst) == (4.0, 4)
    assert bucket.max_in(FORTNOX_WINDOW) == 24 < FORTNOX_REQUESTS
    derived = TokenBucket.for_window()
    assert (derived.rate, derived.burst) == (4.0, 4)


def test_burst_then_steady_rate():
    clock = VirtualClock(0.0)
    bucket = TokenBucket(clock=clock, sleep=clock.sleep)
    assert [bucket.acquire() for _ in range(4)] == [0.0] * 4
    assert abs(bucket.acquire() - 0.25) < 1e-9
    assert not bucket.try_acquire()
    clock.now += 1.0
    assert sum(bucket.try_acquire() for _ in range(10)) == 4


def test_penalize_empties_the_bucket():
    clock = VirtualClock(0.0)
    bucket = TokenBucket(clock=clock, sleep=clock.sleep)
    bucket.penalize()
    assert bucket.acquire() > 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 3, allow_nan=False), min_size=1, max_size=150))
def test_no_window_ever_sees_more_than_24(gaps):
    """Whatever the caller's pauses between requests, any 5 s holds at most 24 of them."""
    clock = VirtualClock(0.0)
    bucket = TokenBucket(clock=clock, sleep=clock.sleep)
    stamps = []
    for gap in gaps:
        clock.now += gap
        bucket.acquire()
        stamps.append(clock.now)
    j = 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - FORTNOX_WINDOW:
            j += 1
        assert i - j + 1 <= 24


def test_a_token_short_by_a_rounding_error_does_not_wait_forever():
    """Found by the property test above (it once ran for 15 minutes): a bucket 1e-16 of a
    token short asked for a sleep too short to move a clock at 10^6 s, again and again."""
    clock = VirtualClock(1e6)
    sleeps = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        assert len(sleeps) < 100, "acquire keeps sleeping without the clock moving"
        clock.sleep(seconds)

    bucket = TokenBucket(clock=clock, sleep=sleep)
    bucket._tokens = 0.9999999999999999  # 1 - 2**-53: what float refills leave behind
    bucket.acquire()
    assert len(sleeps) <= 1
