"""Pages of a listing: how many items one page may hold. Every listing of the core checks its
``limit`` here, so every route answers a limit out of range with the same 400."""

from __future__ import annotations

from fleetgate.errors import InvalidRequest

MAX_PAGE = 100


def check_limit(limit: int, maximum: int = MAX_PAGE) -> int:
    """``limit`` when it is between 1 and ``maximum``, else ``InvalidRequest``."""
    if not 1 <= limit <= maximum:
        raise InvalidRequest(f"limit must be between 1 and {maximum}")
    return limit
