"""A token bucket that keeps bokfor under Fortnox's rate limit.

Fortnox allows 25 requests per 5 seconds per client id and tenant, as a *sliding window*, and
answers 429 beyond it. A bucket of capacity `burst` refilled at `rate` tokens/s lets through at
most `burst + rate * w` requests in any window of `w` seconds, so it honours the window when
`burst + 5 * rate <= 25`. The default, 4 requests/s with a burst of 4, allows at most 24 in any
5 s: one request of margin for clock and network jitter.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

FORTNOX_REQUESTS = 25
FORTNOX_WINDOW = 5.0
# A token short of 1 by less than this counts as whole: refills are float sums, and a wait
# for 1e-16 of a token can be too short to move the clock at all (then it never ends).
_ALMOST = 1e-9


class TokenBucket:
    def __init__(
        self,
        rate: float = 4.0,
        burst: int = 4,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    @classmethod
    def for_window(
        cls,
        requests: int = FORTNOX_REQUESTS,
        window: float = FORTNOX_WINDOW,
        margin: int = 1,
        **kwargs: object,
    ) -> "TokenBucket":
        """The fastest bucket that admits at most `requests - margin` in any sliding `window`,
        with a burst of about one second's worth: 25 per 5 s -> burst 4, rate 4/s (24 / 5 s)."""
        budget = requests - margin
        burst = max(1, int(budget / window))
        rate = (budget - burst) / window
        return cls(rate=rate, burst=burst, **kwargs)  # type: ignore[arg-type]

    def max_in(self, window: float) -> float:
        """The most requests this bucket admits in any `window` seconds."""
        return self.burst + self.rate * window

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)

    def try_acquire(self) -> bool:
        with self._lock:
            self._refill()
            if self._tokens >= 1.0 - _ALMOST:
                self._tokens -= 1.0
                return True
            return False

    def acquire(self) -> float:
        """Take one token, sleeping until one is there; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens >= 1.0 - _ALMOST:
                    self._tokens -= 1.0
                    return waited
                delay = (1.0 - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay

    def penalize(self) -> None:
        """After a 429: empty the bucket, so the next request waits a full token."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)


class Unlimited:
    """A limiter that never waits (tests, or a proxy that limits for us)."""

    def acquire(self) -> float:
        return 0.0

    def penalize(self) -> None:
        pass
