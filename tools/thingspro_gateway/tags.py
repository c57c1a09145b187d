"""The simulated gateway's tags and what its message groups publish.

A ThingsPro Edge message group selects tags (``tags: {prvdName: {srcName: [tagName, …]}}``) and publishes
them to its ``outputTopic``. Each tag reading is a runtime record ``{prvdName, srcName, tagName, dataType,
dataValue, ts}``; the group's ``format`` is a jq filter applied to each record, the results merged into one
message ("object override": a later reading of the same key replaces the earlier one). An empty
``format`` means Moxa's default filter::

    {tags:{(.prvdName):{(.srcName):{(.tagName):{values:[{updateTimeStamp:(.ts/1000|todateiso8601),
                                                          value:.dataValue}]}}}}}

Invariants:
- ``ts`` is in milliseconds (the default filter divides it by 1000 before ``todateiso8601``, which is only
  right for milliseconds), and ``updateTimeStamp`` is ``todateiso8601``'s form, ``YYYY-MM-DDTHH:MM:SSZ``.
- Values are a pure function of the tag and ``now`` (no clock, no randomness): a tag is a counter (whole
  seconds of ``now`` modulo 65536, as a 16-bit register wraps) or a sine of period 60 s between 0 and 100,
  chosen by a stable hash of its name; a value written with ``direct-write-tag`` (``state["tagValues"]``)
  replaces the simulated one.
- Only enabled groups of enabled MQTT clients publish. A group with a custom ``format`` is published only
  when the ``jq`` module imports; without it the group is skipped, never published in another form.
- Sending thresholds, sampling modes and polling intervals are not simulated: every call of
  ``publications`` is one sending of every group.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

try:  # optional: the custom formats are jq filters
    import jq as _jq
except ImportError:  # pragma: no cover - depends on the environment
    _jq = None

COUNTER_MODULUS = 65536
SINE_PERIOD_S = 60.0


def jq_available() -> bool:
    """Whether custom ``format`` filters can be evaluated here."""
    return _jq is not None


def timestamp_ms(now: datetime) -> int:
    return int(_utc(now).timestamp() * 1000)


def iso8601(ts_ms: int) -> str:
    """jq's ``todateiso8601`` of ``ts_ms / 1000``."""
    return datetime.fromtimestamp(ts_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def simulated_value(prvd: str, src: str, tag: str, now: datetime) -> int | float:
    """The tag's value at ``now``: a counter or a sine, by a stable hash of its name."""
    key = zlib.crc32(f"{prvd}/{src}/{tag}".encode())
    seconds = _utc(now).timestamp()
    if key % 2 == 0:
        return int(seconds) % COUNTER_MODULUS
    phase = (key % 360) * math.pi / 180
    return round(50 + 50 * math.sin(2 * math.pi * seconds / SINE_PERIOD_S + phase), 3)


def record(state: Mapping[str, Any], prvd: str, src: str, tag: str, now: datetime) -> dict[str, Any]:
    """The runtime record of one tag reading at ``now``."""
    written = state.get("tagValues", {}).get(prvd, {}).get(src, {}).get(tag)
    if written is not None:
        data_type, value = written["dataType"], written["dataValue"]
    else:
        value = simulated_value(prvd, src, tag, now)
        data_type = "int32" if isinstance(value, int) else "float64"
    return {
        "prvdName": prvd,
        "srcName": src,
        "tagName": tag,
        "dataType": data_type,
        "dataValue": value,
        "ts": timestamp_ms(now),
    }


def default_format(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Moxa's default filter applied to each record, the results merged (object override)."""
    message: dict[str, Any] = {"tags": {}}
    for item in records:
        sources = message["tags"].setdefault(str(item["prvdName"]), {})
        tags = sources.setdefault(str(item["srcName"]), {})
        tags[str(item["tagName"])] = {
            "values": [{"updateTimeStamp": iso8601(int(item["ts"])), "value": item["dataValue"]}]
        }
    return message


def custom_format(expression: str, records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A jq ``format`` applied to each record, object results merged; needs ``jq_available()``."""
    if _jq is None:
        raise RuntimeError("the jq module is not installed")
    program = _jq.compile(expression)
    message: dict[str, Any] = {}
    for item in records:
        result = program.input_value(dict(item)).first()
        if isinstance(result, dict):
            _deep_update(message, result)
    return message


def group_records(state: Mapping[str, Any], group: Mapping[str, Any], now: datetime) -> list[dict[str, Any]]:
    selection = group.get("tags") or {}
    return [
        record(state, str(prvd), str(src), str(tag), now)
        for prvd, sources in selection.items()
        if isinstance(sources, dict)
        for src, names in sources.items()
        if isinstance(names, list)
        for tag in names
    ]


def publications(state: Mapping[str, Any], now: datetime) -> list[tuple[str, bytes]]:
    """``(topic, payload)`` for every enabled message group of every enabled MQTT client, in order."""
    out: list[tuple[str, bytes]] = []
    mqtt = state.get("mqtt", {})
    for client in mqtt.get("clients", []):
        if not client.get("enable"):
            continue
        for group in mqtt.get("messages", {}).get(str(client["id"]), []):
            if not group.get("enable"):
                continue
            records = group_records(state, group, now)
            expression = group.get("format") or ""
            if not expression:
                message = default_format(records)
            elif jq_available():
                message = custom_format(expression, records)
            else:
                continue
            out.append((str(group.get("outputTopic") or "sample"), json.dumps(message).encode()))
    return out


def _deep_update(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
