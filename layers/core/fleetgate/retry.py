"""Retry on conflict: optimistic writers that lost a race read again and retry, with full jitter, and
give up with a 503 (``Retryable``) when contention outlasts the budget.

Every read-modify-write loop of the core goes through ``on_conflict``; loops that must do more than
retry (skip an item, change course) call ``backoff`` between their own attempts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from fleetgate.errors import Conflict, Retryable

T = TypeVar("T")

ATTEMPTS = 12
BASE_S = 0.004
MAX_EXPONENT = 6  # the longest nap is BASE_S * 2**6 = 256 ms


def backoff(attempt: int) -> None:
    """Sleep a random time below ``BASE_S * 2**attempt`` (capped): full jitter spreads the writers
    that collided so the next round does not collide again."""
    time.sleep(random.uniform(0, BASE_S * 2 ** min(attempt, MAX_EXPONENT)))  # noqa: S311 - jitter, not crypto


def on_conflict(
    attempt: Callable[[], T],
    *,
    retry_on: tuple[type[BaseException], ...] = (Conflict,),
    attempts: int = ATTEMPTS,
    busy: str = "The resource is being changed by many writers; retry the request",
) -> T:
    """``attempt()``'s result; when it raises one of ``retry_on`` (a lost conditional write), back off
    and call it again, up to ``attempts`` times, then raise ``Retryable(busy)``. ``attempt`` must read
    what it needs itself, so each try starts from the current state."""
    for number in range(attempts):
        try:
            return attempt()
        except retry_on:
            if number + 1 < attempts:
                backoff(number)
    raise Retryable(busy)
