"""The deadline of the invocation being served: how long the handler has before Lambda stops it.

The Lambda handler decorator of ``fleetgate.observability`` records it from the context's
``get_remaining_time_in_millis`` for the length of each invocation; retry loops and long-polls ask
``remaining_s`` so that they answer (a 503, a 408) while the function can still answer at all.
Outside an invocation (a script, a unit test) there is no deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("fleetgate_deadline", default=None)


@contextmanager
def invocation(context: object) -> Iterator[None]:
    """Within the block, ``remaining_s`` counts down the time ``context`` (a Lambda context) had left
    when the block started; a context without ``get_remaining_time_in_millis`` sets no deadline."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    deadline = time.monotonic() + remaining() / 1000 if callable(remaining) else None
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining_s() -> float | None:
    """Seconds left before the current invocation's deadline (never negative), None when none is known."""
    deadline = _DEADLINE.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())
