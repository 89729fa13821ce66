"""The shared rate limiter on a fake clock: spacing, Retry-After pauses, slowing and recovery."""

from __future__ import annotations

import asyncio

from batch_sync.ratelimit import AdaptiveRateLimiter


class FakeClock:
    """A clock that only moves when the limiter sleeps or the test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def send_times(limiter: AdaptiveRateLimiter, clock: FakeClock, count: int) -> list[float]:
    """Acquire ``count`` slots one after another and return when each was granted."""
    start = clock.now
    times = []

    async def main() -> None:
        for _ in range(count):
            await limiter.acquire()
            times.append(round(clock.now - start, 6))

    asyncio.run(main())
    return times


def test_slots_spaced_after_burst() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(50.0, clock=clock, sleep=clock.sleep)

    times = send_times(limiter, clock, 10)

    # A burst of 0.1 s at 50 per second is six requests at once.
    assert times[:6] == [0.0] * 6
    assert times[6:] == [0.02, 0.04, 0.06, 0.08]


def test_retry_after_pauses_everyone() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(1000.0, clock=clock, sleep=clock.sleep)

    limiter.on_throttled(retry_after=3.0)
    times = send_times(limiter, clock, 3)

    assert times == [3.0, 3.0, 3.0]


def test_429_halves_rate_once_per_second() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(100.0, clock=clock, sleep=clock.sleep)

    limiter.on_throttled(None)
    limiter.on_throttled(None)

    assert limiter.rate == 50.0
    assert limiter.throttled == 2
    clock.now += 1.0
    limiter.on_throttled(None)
    assert limiter.rate == 25.0
    assert limiter.lowest_rate == 25.0


def test_rate_recovers_gradually() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(100.0, clock=clock, sleep=clock.sleep)
    limiter.on_throttled(None)

    rates = []
    for _ in range(5):
        clock.now += 1.0
        limiter.on_success()
        rates.append(limiter.rate)

    assert rates == [62.5, 78.125, 97.65625, 100.0, 100.0]


def test_unlimited_slows_then_returns_unlimited() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(None, clock=clock, sleep=clock.sleep)
    send_times(limiter, clock, 80)
    clock.now += 1.0
    send_times(limiter, clock, 1)

    limiter.on_throttled(None)
    assert limiter.rate is not None
    assert limiter.rate < 80
    for _ in range(10):
        clock.now += 1.0
        limiter.on_success()

    assert limiter.rate is None
