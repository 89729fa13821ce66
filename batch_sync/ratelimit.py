"""One request rate shared by all upload workers, slowed after 429 responses.

Every request waits for a slot first. Slots are spaced ``1 / rate`` seconds
apart, and an idle limiter lets a burst of up to ``BURST_SECONDS`` worth of
slots go at once (the generic cell rate algorithm). The limiter only stores
the time of the next free slot, so acquiring costs no lock and no task. A 429 pauses every worker until its Retry-After
has passed, halves the rate (at most once per second, because one burst of
429s is one signal), and the rate then grows back by a quarter per second of
successes until it reaches the configured rate again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

# NOTE: e-CROSS publishes no request limit; this default is a guess that
# keeps a nightly run well below what a shared API usually allows.
DEFAULT_RATE_LIMIT = 100.0
MIN_RATE = 1.0
SLOW_DOWN_FACTOR = 0.5
RECOVERY_FACTOR = 1.25
BURST_SECONDS = 0.1
# Seconds between two changes of the rate in the same direction.
ADJUST_INTERVAL = 1.0


class AdaptiveRateLimiter:
    """Space requests at most ``rate`` per second across all workers.

    A rate of None sends as fast as the workers can until the first 429. The
    limiter then starts from half of the rate measured in the last second and
    returns to unlimited once it has recovered to that measured rate.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.configured_rate = rate
        self._rate = rate
        self._recover_to = rate
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._last_adjusted = float("-inf")
        self._window_start = clock()
        self._window_count = 0
        self._last_window_rate = 0.0
        self.requests = 0
        self.throttled = 0
        self.lowest_rate: float | None = None

    @property
    def rate(self) -> float | None:
        """The rate in requests per second that the limiter allows now, or None for no limit."""
        return self._rate

    async def acquire(self) -> None:
        """Wait until this request may be sent."""
        now = self._clock()
        slot = max(now, self._paused_until)
        if self._rate is not None:
            # The next slot is the theoretical arrival time of the cell rate
            # algorithm; a request may go up to BURST_SECONDS before it.
            arrival = max(slot, self._next_slot)
            self._next_slot = arrival + 1.0 / self._rate
            slot = max(slot, arrival - BURST_SECONDS)
        self._count(now)
        if slot > now:
            await self._sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """Hold every request back for ``seconds``."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def on_throttled(self, retry_after: float | None) -> None:
        """Slow down after a 429 and honour its Retry-After for all workers."""
        self.throttled += 1
        if retry_after is not None:
            self.pause(retry_after)
        now = self._clock()
        if now - self._last_adjusted < ADJUST_INTERVAL:
            return

        if self._rate is None:
            self._recover_to = max(MIN_RATE, self._measured_rate(now))
            current = self._recover_to
        else:
            current = self._rate
        self._rate = max(MIN_RATE, current * SLOW_DOWN_FACTOR)
        self._last_adjusted = now
        if self.lowest_rate is None or self._rate < self.lowest_rate:
            self.lowest_rate = self._rate
        log.warning("ratelimit.slowed", rate=round(self._rate, 2), retry_after=retry_after)

    def on_success(self) -> None:
        """Let the rate grow back towards the configured rate."""
        if self._rate is None or self._recover_to is None or self._rate >= self._recover_to:
            return
        now = self._clock()
        if now - self._last_adjusted < ADJUST_INTERVAL:
            return

        self._rate = min(self._recover_to, self._rate * RECOVERY_FACTOR)
        self._last_adjusted = now
        if self._rate >= self._recover_to and self.configured_rate is None:
            self._rate = None
        log.info("ratelimit.recovering", rate=None if self._rate is None else round(self._rate, 2))

    def _measured_rate(self, now: float) -> float:
        """Return the request rate of the last full second, or of the current one once it is long enough."""
        elapsed = now - self._window_start
        current = self._window_count / elapsed if elapsed >= 0.25 else 0.0
        return max(self._last_window_rate, current)

    def _count(self, now: float) -> None:
        self.requests += 1
        if now - self._window_start >= 1.0:
            self._last_window_rate = self._window_count / (now - self._window_start)
            self._window_start = now
            self._window_count = 0
        self._window_count += 1
