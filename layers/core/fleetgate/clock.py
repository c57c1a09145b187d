"""Time in the forms the dialects use: epoch seconds (shadows, jobs), epoch milliseconds (ThingsBoard,
events) and ISO-8601 UTC text (``2026-05-27T10:05:00Z``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return int(time.time() * 1000)


def now_s() -> int:
    return int(time.time())


def iso_utc(epoch_ms: int, *, milliseconds: bool = False) -> str:
    """``2026-05-27T10:05:00Z`` (or ``…:00.123Z`` with ``milliseconds``)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    text = moment.isoformat(timespec="milliseconds" if milliseconds else "seconds")
    return text.replace("+00:00", "Z")
