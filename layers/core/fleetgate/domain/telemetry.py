"""Telemetry records: values of named keys at one timestamp (epoch milliseconds)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_TS = 10**15  # year 33658: anything larger is a unit mistake (microseconds)


@dataclass(frozen=True)
class TelemetryRecord:
    ts: int
    values: dict[str, Any]


@dataclass(frozen=True)
class LatestValue:
    ts: int
    value: Any


def merge_by_timestamp(records: Iterable[TelemetryRecord]) -> list[TelemetryRecord]:
    """One record per distinct timestamp (later keys win), records without values dropped, in ts order."""
    merged: dict[int, dict[str, Any]] = {}
    for record in records:
        if record.values:
            merged.setdefault(record.ts, {}).update(record.values)
    return [TelemetryRecord(ts, values) for ts, values in sorted(merged.items())]


def latest_of(records: Iterable[TelemetryRecord]) -> dict[str, LatestValue]:
    """The newest value of each key among ``records``."""
    latest: dict[str, LatestValue] = {}
    for record in records:
        for key, value in record.values.items():
            current = latest.get(key)
            if current is None or record.ts >= current.ts:
                latest[key] = LatestValue(record.ts, value)
    return latest
