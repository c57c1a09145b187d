"""Retry on conflict: optimistic writers that lost a race read again and retry, and give up with a 503
(``Retryable``) only when contention outlasts a time budget.

Every read-modify-write loop of the core goes through ``on_conflict``. A loop ends on success, or when
its budget is spent: ``BUDGET_S``, and never later than ``RESERVE_S`` before the
invocation's deadline (``fleetgate.deadline``), so the 503 is answered before Lambda stops the
function. Between attempts it naps with decorrelated jitter: each nap is random between ``BASE_S`` and
three times the previous one (at most ``CAP_S``), so writers that keep colliding spread out fast, and
the spread shrinks again for a writer that collides less. The longest nap shrinks as a writer's
budget runs out (``aged_cap``), so that writers that have waited long get ahead of fresh ones. Loops
that must do more than retry (skip an item, change course) call ``backoff`` between their own attempts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from fleetgate import deadline
from fleetgate.errors import Conflict, Retryable

T = TypeVar("T")

ATTEMPTS = 12  # for loops of their own that count attempts (``backoff``)
MAX_ATTEMPTS = 200  # a bound on ``on_conflict``'s attempts; its time budget normally ends it first
BUDGET_S = 8.0  # the longest an ``on_conflict`` loop keeps retrying
RESERVE_S = 1.0  # kept back from the invocation's deadline to answer
BASE_S = 0.004
CAP_S = 0.5
MAX_EXPONENT = 6  # ``backoff``'s longest nap is BASE_S * 2**6 = 256 ms


def backoff(attempt: int) -> None:
    """Sleep a random time below ``BASE_S * 2**attempt`` (capped): full jitter spreads the writers
    that collided so the next round does not collide again."""
    time.sleep(random.uniform(0, BASE_S * 2 ** min(attempt, MAX_EXPONENT)))  # noqa: S311 - jitter, not crypto


def next_nap(previous: float) -> float:
    """Decorrelated jitter: a nap between ``BASE_S`` and three times ``previous``, at most ``CAP_S``."""
    return min(CAP_S, random.uniform(BASE_S, max(BASE_S, previous) * 3))  # noqa: S311 - jitter, not crypto


def budget_s(limit: float = BUDGET_S) -> float:
    """How long a loop starting now may retry: ``limit``, less when the invocation ends sooner."""
    left = deadline.remaining_s()
    return limit if left is None else max(0.0, min(limit, left - RESERVE_S))


def on_conflict(
    attempt: Callable[[], T],
    *,
    retry_on: tuple[type[BaseException], ...] = (Conflict,),
    budget: float = BUDGET_S,
    attempts: int = MAX_ATTEMPTS,
    busy: str = "The resource is being changed by many writers; retry the request",
) -> T:
    """``attempt()``'s result; when it raises one of ``retry_on`` (a lost conditional write), nap and
    call it again, until the time budget (``budget`` seconds, bounded by the invocation's deadline) or
    ``attempts`` runs out, then raise ``Retryable(busy)``. The last nap is cut to end with the budget,
    so a loop makes one last attempt rather than giving up early. ``attempt`` must read what it needs itself,
    so each try starts from the current state."""
    total = budget_s(budget)
    give_up = time.monotonic() + total
    nap = BASE_S
    for number in range(attempts):
        try:
            return attempt()
        except retry_on:
            left = give_up - time.monotonic()
            if number + 1 >= attempts or left <= 0:
                break
            nap = min(next_nap(nap), aged_cap(left, total))
            time.sleep(min(nap, left))  # the last nap ends with the budget, for one more attempt
    raise Retryable(busy)


def aged_cap(left: float, total: float) -> float:
    """The longest nap for a writer with ``left`` of its ``total`` budget: ``CAP_S`` at first, shrinking
    with the budget to a tenth of it, so that a writer that has lost for long retries sooner than the
    writers that just arrived, and is not starved by them."""
    return CAP_S * max(0.1, left / total) if total > 0 else BASE_S
