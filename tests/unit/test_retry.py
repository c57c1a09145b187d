"""The one retry-on-conflict helper: retries lost races with decorrelated jitter for a time budget
bounded by the invocation's deadline, gives up with a 503, and lets every other error through at once."""

from __future__ import annotations

import pytest

from fleetgate import deadline, retry
from fleetgate.errors import Conflict, InvalidRequest, Retryable, VersionConflict


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    naps: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", naps.append)
    return naps


def failing(times: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "written"

    return calls, attempt


def test_a_lost_race_is_retried_until_it_succeeds(no_sleep: list[float]) -> None:
    calls, attempt = failing(3, VersionConflict())
    assert retry.on_conflict(attempt) == "written"  # type: ignore[arg-type]
    assert len(calls) == 4
    assert len(no_sleep) == 3


def test_contention_beyond_the_budget_is_a_503_with_the_message(no_sleep: list[float]) -> None:
    calls, attempt = failing(100, Conflict())
    with pytest.raises(Retryable, match="busy shadow"):
        retry.on_conflict(attempt, attempts=5, busy="busy shadow")  # type: ignore[arg-type]
    assert len(calls) == 5
    assert len(no_sleep) == 4  # no nap after the last attempt


def test_other_errors_are_not_retried() -> None:
    calls, attempt = failing(1, InvalidRequest("bad"))
    with pytest.raises(InvalidRequest):
        retry.on_conflict(attempt)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_backoff_naps_grow_with_the_attempt_and_are_capped(no_sleep: list[float]) -> None:
    for attempt in range(20):
        retry.backoff(attempt)
    assert all(0 <= nap <= retry.BASE_S * 2 ** min(i, retry.MAX_EXPONENT) for i, nap in enumerate(no_sleep))
    assert max(no_sleep) <= retry.BASE_S * 2**retry.MAX_EXPONENT


# --------------------------------------------------------------------------- the time budget
class FakeClock:
    """``time.monotonic`` and ``time.sleep`` on a clock that only naps move; each attempt costs
    ``attempt_s``."""

    def __init__(self, attempt_s: float = 0.0) -> None:
        self.now = 1000.0
        self.attempt_s = attempt_s
        self.naps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(retry.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(retry.time, "sleep", fake.sleep)
    return fake


def losing(clock: FakeClock, times: int) -> tuple[list[float], object]:
    """An attempt that loses ``times`` races (each costing the clock's ``attempt_s``), then wins."""
    started: list[float] = []

    def attempt() -> str:
        started.append(clock.now)
        clock.now += clock.attempt_s
        if len(started) <= times:
            raise VersionConflict()
        return "written"

    return started, attempt


def test_contention_is_retried_for_the_whole_budget_then_answered_503(clock: FakeClock) -> None:
    # Given a writer that loses every race, each attempt costing 20 ms
    clock.attempt_s = 0.02
    started, attempt = losing(clock, 10_000)

    # When it retries with the default budget
    with pytest.raises(Retryable):
        retry.on_conflict(attempt)  # type: ignore[arg-type]

    # Then it kept trying until the budget was spent (its last attempt starting right at the end), no longer
    assert started[-1] - started[0] == pytest.approx(retry.BUDGET_S, abs=0.05)
    assert len(started) > retry.ATTEMPTS


def test_a_writer_that_wins_within_the_budget_gets_its_answer(clock: FakeClock) -> None:
    started, attempt = losing(clock, 40)
    assert retry.on_conflict(attempt) == "written"  # type: ignore[arg-type]
    assert len(started) == 41


def test_the_budget_ends_a_reserve_before_the_invocations_deadline(clock: FakeClock) -> None:
    # Given an invocation with 3 s left
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 3000

    started, attempt = losing(clock, 10_000)

    # When a writer keeps losing within it
    with deadline.invocation(Context()), pytest.raises(Retryable):
        retry.on_conflict(attempt)  # type: ignore[arg-type]

    # Then it gives up the reserve before the deadline, leaving time to answer
    assert clock.now - started[0] == pytest.approx(3.0 - retry.RESERVE_S, abs=0.01)


def test_an_invocation_already_at_its_deadline_tries_once(clock: FakeClock) -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 500

    started, attempt = losing(clock, 10_000)
    with deadline.invocation(Context()), pytest.raises(Retryable):
        retry.on_conflict(attempt)  # type: ignore[arg-type]
    assert len(started) == 1
    assert clock.naps == []


def test_outside_an_invocation_there_is_no_deadline() -> None:
    assert deadline.remaining_s() is None
    assert retry.budget_s() == retry.BUDGET_S


def test_the_deadline_counts_down_within_the_invocation_and_is_forgotten_after(clock: FakeClock) -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 10_000

    with deadline.invocation(Context()):
        clock.now += 4
        assert deadline.remaining_s() == pytest.approx(6.0)
        assert retry.budget_s() == pytest.approx(5.0)
        clock.now += 10
        assert deadline.remaining_s() == 0.0
    assert deadline.remaining_s() is None


def test_naps_are_decorrelated_jitter_between_the_base_and_three_times_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the random draw at its extremes
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: high)
    assert retry.next_nap(0.01) == pytest.approx(0.03)
    assert retry.next_nap(0.0) == pytest.approx(3 * retry.BASE_S)
    assert retry.next_nap(10.0) == retry.CAP_S
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: low)
    assert retry.next_nap(0.2) == retry.BASE_S


def test_real_naps_stay_within_their_bounds() -> None:
    previous = retry.BASE_S
    for _ in range(500):
        nap = retry.next_nap(previous)
        assert retry.BASE_S <= nap <= min(retry.CAP_S, 3 * previous)
        previous = nap


def test_a_writer_that_has_waited_long_naps_less_than_a_fresh_one(clock: FakeClock) -> None:
    # Given the longest nap allowed at the start, midway and near the end of a budget
    fresh, midway, late = (retry.aged_cap(left, 8.0) for left in (8.0, 4.0, 0.1))

    # Then it shrinks as the budget runs out, never below a tenth of the cap
    assert fresh == retry.CAP_S
    assert midway == pytest.approx(retry.CAP_S / 2)
    assert late == pytest.approx(retry.CAP_S / 10)


def test_no_nap_outlasts_the_aged_cap(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: high)  # the longest naps possible
    started, attempt = losing(clock, 10_000)
    with pytest.raises(Retryable):
        retry.on_conflict(attempt)  # type: ignore[arg-type]
    for begun, nap in zip(started, clock.naps, strict=False):
        left = started[0] + retry.BUDGET_S - begun
        assert nap <= retry.aged_cap(left, retry.BUDGET_S) + 1e-9
