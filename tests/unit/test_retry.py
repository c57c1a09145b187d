"""The one retry-on-conflict helper: retries lost races with jitter, gives up with a 503, and lets
every other error through at once."""

from __future__ import annotations

import pytest

from fleetgate import retry
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
