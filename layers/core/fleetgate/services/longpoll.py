"""Long-polling over a wake-up queue: check the store, wait for a wake-up, check again, until the
deadline. The wait is capped below API Gateway's 30-second integration limit, whatever the client asks,
and ends ``ANSWER_RESERVE_S`` before the invocation's own deadline, so the poll answers (408) before
Lambda stops the function."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from fleetgate import deadline
from fleetgate.data import wakeups
from fleetgate.settings import get_settings

ANSWER_RESERVE_S = 1.5  # kept back from the invocation's deadline for the last check and the answer

T = TypeVar("T")


def wait_seconds(requested_ms: int | None) -> float:
    """The wait a long-poll may spend: the request's ``timeout`` (ms; 0 or absent means the cap),
    never more than ``LONG_POLL_CAP_SECONDS``, never negative."""
    cap = float(get_settings().long_poll_cap_seconds)
    if requested_ms is None or requested_ms == 0:
        return cap
    return max(0.0, min(cap, requested_ms / 1000))


def poll(check: Callable[[], T | None], queue_url: str | None, seconds: float) -> T | None:
    """``check()``'s first non-None result within ``seconds``, or None. Between checks it sleeps on
    the wake-up queue (or, without one, in short naps)."""
    left = deadline.remaining_s()
    if left is not None:
        seconds = max(0.0, min(seconds, left - ANSWER_RESERVE_S))
    ends = time.monotonic() + seconds
    while True:
        found = check()
        if found is not None:
            return found
        remaining = ends - time.monotonic()
        if remaining <= 0:
            return None
        if queue_url and remaining >= 1:
            wakeups.wait(queue_url, remaining)
        else:
            time.sleep(min(0.5, remaining))
