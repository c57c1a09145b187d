"""Telemetry use cases: store records, read history and latest values."""

from __future__ import annotations

from fleetgate import clock
from fleetgate.data.telemetry import TelemetryRepository
from fleetgate.domain.paging import check_limit
from fleetgate.domain.telemetry import LatestValue, TelemetryRecord, latest_of, merge_by_timestamp
from fleetgate.errors import InvalidRequest
from fleetgate.settings import get_settings

MAX_LIMIT = 1000


def _telemetry() -> TelemetryRepository:
    return TelemetryRepository(get_settings().require("telemetry_table"))


def record(device_id: str, records: list[TelemetryRecord], *, suffix: str | None = None) -> int:
    """Store ``records``: one item per distinct timestamp, plus the latest-values item. Returns the
    number of timestamps written. A redelivered message passes the same ``suffix`` (8 hex digits) and
    overwrites its own history items."""
    merged = merge_by_timestamp(records)
    if not merged:
        return 0
    settings = get_settings()
    expires_at = clock.now_s() + settings.telemetry_retention_days * 86400
    repo = _telemetry()
    repo.append(device_id, merged, expires_at, suffix)
    repo.update_latest(device_id, latest_of(merged))
    return len(merged)


def remove(device_id: str, keys: list[str], ts: int) -> None:
    """Remove ``keys`` from the device's latest values, unless a value is newer than ``ts`` (history
    keeps what was reported)."""
    _telemetry().remove_latest(device_id, keys, ts)


def replace_state(device_id: str, kept: set[str], ts: int) -> list[str]:
    """Remove every latest value not in ``kept`` and not newer than ``ts``; the keys removed."""
    repo = _telemetry()
    gone = sorted(k for k, v in repo.latest(device_id).items() if k not in kept and v.ts <= ts)
    repo.remove_latest(device_id, gone, ts)
    return gone


def latest(device_id: str, keys: list[str] | None = None) -> dict[str, LatestValue]:
    values = _telemetry().latest(device_id)
    return values if keys is None else {k: values[k] for k in keys if k in values}


def history(
    device_id: str, keys: list[str] | None, start_ts: int, end_ts: int, limit: int
) -> dict[str, list[LatestValue]]:
    """Up to ``limit`` values of each key between ``start_ts`` and ``end_ts`` (inclusive), newest first.
    Without ``keys``, every key the device has ever reported."""
    if start_ts < 0 or end_ts < start_ts:
        raise InvalidRequest("startTs must be >= 0 and <= endTs")
    check_limit(limit, MAX_LIMIT)
    repo = _telemetry()
    if keys is None:
        keys = sorted(repo.latest(device_id))
    if not keys:
        return {}
    found = repo.history(device_id, keys, start_ts, end_ts, limit)
    return {k: v for k, v in found.items() if v}
