"""Long-polling over a wake-up queue: check the store, wait for a wake-up, check again, until the
deadline. The wait is capped below API Gateway's 30-second integration limit, whatever the client asks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from fleetgate.data import wakeups
from fleetgate.settings import get_settings

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
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found is not None:
            return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        if queue_url and remaining >= 1:
            wakeups.wait(queue_url, remaining)
        else:
            time.sleep(min(0.5, remaining))
