"""Telemetry in DynamoDB (``TELEMETRY_TABLE``), keyed ``deviceId`` + ``sk``.

- One item per distinct timestamp of a request: ``sk = <ts, 15 digits>#<random>`` (the suffix keeps two
  requests with the same millisecond from overwriting each other), ``values`` a JSON object, and
  ``expiresAt`` for TTL. Written with BatchWriteItem, 25 items a call.
- One ``sk = LATEST`` item per device with the newest ``{ts, v}`` of every key, updated by one
  conditional UpdateItem per request; a late (older) sample never overwrites a newer one.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fleetgate.data.aws import client, n, s, translated_errors, write_batches
from fleetgate.domain.telemetry import LatestValue, TelemetryRecord
from fleetgate.errors import Conflict, Retryable
from fleetgate.retry import on_conflict

LATEST = "LATEST"
TS_DIGITS = 15
FAST_PATH_KEYS = 30  # beyond this many keys the condition expression gets too long: read-modify-write
MAX_QUERY_PAGES = 20


def _sk(ts: int, suffix: str) -> str:
    return f"{ts:0{TS_DIGITS}d}#{suffix}"


def _attr(key: str) -> str:
    return f"k:{key}"


class TelemetryRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    # ------------------------------------------------------------------ writes
    def append(
        self, device_id: str, records: list[TelemetryRecord], expires_at: int, suffix: str | None = None
    ) -> None:
        """``suffix`` (8 hex digits) names a request's items: a redelivered message given the same one
        overwrites its items instead of adding them again (random when None)."""
        suffix = suffix or secrets.token_hex(4)
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "deviceId": s(device_id),
                        "sk": s(_sk(r.ts, suffix)),
                        "ts": n(r.ts),
                        "values": s(json.dumps(r.values, separators=(",", ":"), ensure_ascii=False)),
                        "expiresAt": n(expires_at),
                    }
                }
            }
            for r in records
        ]
        if write_batches(self.table, requests):
            raise Retryable("Telemetry could not be stored; retry the request")

    def update_latest(self, device_id: str, latest: dict[str, LatestValue]) -> None:
        if not latest:
            return
        if len(latest) <= FAST_PATH_KEYS:
            try:
                self._update_latest_if_newer(device_id, latest)
                return
            except Conflict:
                pass  # some key already has a newer sample: merge key by key below
        self._merge_latest(device_id, latest)

    def _update_latest_if_newer(self, device_id: str, latest: dict[str, LatestValue]) -> None:
        names: dict[str, str] = {"#ts": "ts"}
        values: dict[str, Any] = {":one": n(1)}
        sets, conditions = [], []
        for i, (key, item) in enumerate(latest.items()):
            names[f"#k{i}"] = _attr(key)
            values[f":v{i}"] = self._latest_value(item)
            values[f":t{i}"] = n(item.ts)
            sets.append(f"#k{i} = :v{i}")
            conditions.append(f"(attribute_not_exists(#k{i}) OR #k{i}.#ts <= :t{i})")
        with translated_errors():
            client("dynamodb").update_item(
                TableName=self.table,
                Key={"deviceId": s(device_id), "sk": s(LATEST)},
                UpdateExpression="SET " + ", ".join(sets) + " ADD rev :one",
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def _merge_latest(self, device_id: str, latest: dict[str, LatestValue]) -> None:
        ddb = client("dynamodb")
        key = {"deviceId": s(device_id), "sk": s(LATEST)}

        def merge() -> None:
            with translated_errors():
                item = ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item") or {}
            rev = int(item.get("rev", {}).get("N", "0"))
            merged = dict(item) | key
            for name, value in latest.items():
                current = item.get(_attr(name))
                if current is None or int(current["M"]["ts"]["N"]) <= value.ts:
                    merged[_attr(name)] = self._latest_value(value)
            merged["rev"] = n(rev + 1)
            condition = (
                {"ConditionExpression": "rev = :rev", "ExpressionAttributeValues": {":rev": n(rev)}}
                if item
                else {"ConditionExpression": "attribute_not_exists(deviceId)"}
            )
            with translated_errors():
                ddb.put_item(TableName=self.table, Item=merged, **condition)

        on_conflict(merge, busy="Latest telemetry is under heavy contention; retry the request")

    @staticmethod
    def _latest_value(item: LatestValue) -> dict[str, Any]:
        encoded = json.dumps(item.value, separators=(",", ":"), ensure_ascii=False)
        return {"M": {"ts": n(item.ts), "v": s(encoded)}}

    def delete_latest(self, device_id: str) -> None:
        with translated_errors():
            client("dynamodb").delete_item(
                TableName=self.table, Key={"deviceId": s(device_id), "sk": s(LATEST)}
            )

    # ------------------------------------------------------------------ removal (Xyte: null values, override)
    def remove_latest(self, device_id: str, keys: list[str], ts: int) -> None:
        """Remove ``keys`` from the latest values, each only if its value is not newer than ``ts`` (a late
        removal never drops a newer sample)."""
        if not keys:
            return
        if len(keys) <= FAST_PATH_KEYS:
            names: dict[str, str] = {"#ts": "ts"}
            values: dict[str, Any] = {":t": n(ts), ":one": n(1)}
            conditions = []
            for i, key in enumerate(keys):
                names[f"#k{i}"] = _attr(key)
                conditions.append(f"(attribute_not_exists(#k{i}) OR #k{i}.#ts <= :t)")
            try:
                with translated_errors():
                    client("dynamodb").update_item(
                        TableName=self.table,
                        Key={"deviceId": s(device_id), "sk": s(LATEST)},
                        UpdateExpression="REMOVE "
                        + ", ".join(f"#k{i}" for i in range(len(keys)))
                        + " ADD rev :one",
                        ConditionExpression=" AND ".join(conditions),
                        ExpressionAttributeNames=names,
                        ExpressionAttributeValues=values,
                    )
                return
            except Conflict:
                pass  # some key has a newer sample: remove key by key below
        self._remove_older(device_id, set(keys), ts)

    def _remove_older(self, device_id: str, keys: set[str], ts: int) -> None:
        ddb = client("dynamodb")
        key = {"deviceId": s(device_id), "sk": s(LATEST)}

        def remove() -> None:
            with translated_errors():
                item = ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            if not item:
                return
            rev = int(item.get("rev", {}).get("N", "0"))
            kept = {
                name: value
                for name, value in item.items()
                if not (name[2:] in keys and name.startswith("k:") and int(value["M"]["ts"]["N"]) <= ts)
            }
            kept["rev"] = n(rev + 1)
            with translated_errors():
                ddb.put_item(
                    TableName=self.table,
                    Item=kept,
                    ConditionExpression="rev = :rev OR attribute_not_exists(rev)",
                    ExpressionAttributeValues={":rev": n(rev)},
                )

        on_conflict(remove, busy="Latest telemetry is under heavy contention; retry the request")

    # ------------------------------------------------------------------ reads
    def latest(self, device_id: str) -> dict[str, LatestValue]:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key={"deviceId": s(device_id), "sk": s(LATEST)})
                .get("Item")
                or {}
            )
        return {
            name[2:]: LatestValue(int(v["M"]["ts"]["N"]), json.loads(v["M"]["v"]["S"]))
            for name, v in item.items()
            if name.startswith("k:")
        }

    def history(
        self, device_id: str, keys: list[str], start_ts: int, end_ts: int, limit: int
    ) -> dict[str, list[LatestValue]]:
        """Up to ``limit`` values per key in [start_ts, end_ts], newest first."""
        wanted = set(keys)
        result: dict[str, list[LatestValue]] = {k: [] for k in keys}
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "deviceId = :d AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":d": s(device_id),
                ":lo": s(f"{start_ts:0{TS_DIGITS}d}"),
                ":hi": s(f"{end_ts:0{TS_DIGITS}d}#~"),
            },
            "ProjectionExpression": "#t, #v",
            "ExpressionAttributeNames": {"#t": "ts", "#v": "values"},
            "ScanIndexForward": False,
        }
        ddb = client("dynamodb")
        for _ in range(MAX_QUERY_PAGES):
            with translated_errors():
                page = ddb.query(**params)
            for item in page.get("Items", []):
                ts = int(item["ts"]["N"])
                for key, value in json.loads(item["values"]["S"]).items():
                    if key in wanted and len(result[key]) < limit:
                        result[key].append(LatestValue(ts, value))
            if all(len(v) >= limit for v in result.values()) or "LastEvaluatedKey" not in page:
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return result
