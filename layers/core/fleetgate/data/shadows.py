"""Shadow documents in DynamoDB (``SHADOWS_TABLE``), keyed ``deviceId`` + ``shadowName``.

The document (state and metadata) is stored as one JSON string, so numbers keep their JSON form
(``42.0`` stays a double, ``42`` a long); ``version`` is a number attribute that every write checks,
which is what makes concurrent writers safe. A write that loses the race gets the stored item back
from DynamoDB (``ReturnValuesOnConditionCheckFailure``), so the next attempt needs no read of its own.
A deleted shadow stays as an item with ``exists`` false
and its version, so the next document carries on from that version, as AWS's does.
"""

from __future__ import annotations

import json
from typing import Any

from fleetgate.data.aws import PageKey, cancellation_codes, client, n, query_page, s, translated_errors
from fleetgate.domain.shadow import CLASSIC, Shadow
from fleetgate.errors import Conflict, FleetgateError, VersionConflict

# Every named shadow's name ([a-zA-Z0-9:_-]) sorts before "~", the first character of CLASSIC's.
_NAMED_BELOW = CLASSIC[0]
_CONTENDED = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


class StaleShadow(VersionConflict):
    """The stored shadow is no longer at the version a write expected. ``current`` is the stored one,
    when DynamoDB handed it back (a condition that failed), else None (a transaction conflict)."""

    def __init__(self, current: Shadow | None) -> None:
        super().__init__(current_version=None if current is None else current.version)
        self.current = current


class ShadowRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def _key(self, device_id: str, name: str) -> dict[str, Any]:
        return {"deviceId": s(device_id), "shadowName": s(name)}

    def _read(self, device_id: str, name: str) -> dict[str, Any]:
        with translated_errors():
            item: dict[str, Any] = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=self._key(device_id, name), ConsistentRead=True)
                .get("Item", {})
            )
        return item

    def get(self, device_id: str, name: str) -> Shadow:
        return _shadow_from(self._read(device_id, name))

    def get_with_delivered(self, device_id: str, name: str) -> tuple[Shadow, dict[str, Any]]:
        """The shadow and the snapshot of desired state last delivered to the device (one read)."""
        item = self._read(device_id, name)
        delivered = json.loads(item["delivered"]["S"]) if "delivered" in item else {}
        return _shadow_from(item), delivered

    def save(
        self,
        device_id: str,
        name: str,
        shadow: Shadow,
        *,
        expected_version: int,
        also: dict[str, Any] | None = None,
    ) -> None:
        """Write ``shadow`` if the stored version is still ``expected_version`` (0: never written; a
        written shadow always has version 1 or more). Other attributes of the item are kept. ``also``
        is one more ``TransactWriteItems`` element (a history entry), committed with the shadow or not
        at all. ``StaleShadow`` (a ``VersionConflict``) when another writer got there first."""
        doc = json.dumps({"state": shadow.state, "metadata": shadow.metadata}, separators=(",", ":"))
        values: dict[str, Any] = {
            ":doc": s(doc),
            ":version": n(shadow.version),
            ":updatedAt": n(shadow.timestamp),
            ":exists": {"BOOL": shadow.exists},
        }
        if expected_version == 0:
            condition = "attribute_not_exists(version)"
        else:
            condition = "version = :expected"
            values[":expected"] = n(expected_version)
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(device_id, name),
            "UpdateExpression": "SET doc = :doc, version = :version, updatedAt = :updatedAt, #e = :exists",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#e": "exists"},
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            with translated_errors():
                if also is None:
                    client("dynamodb").update_item(**update)
                else:
                    client("dynamodb").transact_write_items(TransactItems=[{"Update": update}, also])
        except Conflict as exc:
            codes = cancellation_codes(exc)
            if codes and not _CONTENDED.intersection(codes):
                raise FleetgateError(f"Shadow write refused: {', '.join(codes)}") from exc
            raise StaleShadow(_stored_item(exc)) from exc

    def list_named(
        self, device_id: str, limit: int, next_token: str | None
    ) -> tuple[list[tuple[str, Shadow]], str | None]:
        """One page of a device's named shadows (by name; never the classic one, never deleted ones).
        Deleted shadows are skipped by a filter, so a page is read until it holds ``limit`` shadows
        or the device has no more."""
        found: list[tuple[str, Shadow]] = []
        token = next_token
        while True:
            items, token = query_page(
                {
                    "TableName": self.table,
                    "KeyConditionExpression": "deviceId = :d AND shadowName < :classic",
                    "FilterExpression": "attribute_not_exists(#e) OR #e = :true",
                    "ExpressionAttributeNames": {"#e": "exists"},
                    "ExpressionAttributeValues": {
                        ":d": s(device_id),
                        ":classic": s(_NAMED_BELOW),
                        ":true": {"BOOL": True},
                    },
                    "ProjectionExpression": "shadowName, version, updatedAt, #e",
                    "Limit": limit - len(found),
                },
                token,
                PageKey({"deviceId": "S", "shadowName": "S"}, ("deviceId", device_id)),
            )
            found.extend((item["shadowName"]["S"], _summary_from(item)) for item in items)
            if token is None or len(found) >= limit:
                return found, token

    def save_delivered(self, device_id: str, name: str, delivered: dict[str, Any]) -> None:
        """Record what the device has now been sent of the desired state."""
        with translated_errors():
            client("dynamodb").update_item(
                TableName=self.table,
                Key=self._key(device_id, name),
                UpdateExpression="SET delivered = :d",
                ExpressionAttributeValues={":d": s(json.dumps(delivered, separators=(",", ":")))},
            )

    def delete_all(self, device_id: str) -> None:
        """Remove every shadow of a device (used when the device is deleted)."""
        ddb = client("dynamodb")
        with translated_errors():
            paginator = ddb.get_paginator("query")
            for page in paginator.paginate(
                TableName=self.table,
                KeyConditionExpression="deviceId = :d",
                ExpressionAttributeValues={":d": s(device_id)},
                ProjectionExpression="deviceId, shadowName",
            ):
                for item in page.get("Items", []):
                    ddb.delete_item(TableName=self.table, Key=item)


def _stored_item(exc: BaseException) -> Shadow | None:
    """The shadow a failed condition handed back: in an UpdateItem's error, or in the first
    cancellation reason of a transaction (the shadow is its first item); None when there is none."""
    cause = exc.__cause__
    response = getattr(cause, "response", None)
    if not isinstance(response, dict):
        return None
    item = response.get("Item")
    if item is None:
        reasons = response.get("CancellationReasons") or [{}]
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            item = reasons[0].get("Item")
    return _shadow_from(item) if item and "doc" in item else None


def _summary_from(item: dict[str, Any]) -> Shadow:
    """A shadow's version and time, without its document."""
    return Shadow(
        version=int(item["version"]["N"]),
        timestamp=int(item["updatedAt"]["N"]),
        exists=item.get("exists", {}).get("BOOL", True),
    )


def _shadow_from(item: dict[str, Any]) -> Shadow:
    if "doc" not in item:
        return Shadow()
    doc = json.loads(item["doc"]["S"])
    return Shadow(
        state=doc.get("state", {}),
        metadata=doc.get("metadata", {}),
        version=int(item["version"]["N"]),
        timestamp=int(item["updatedAt"]["N"]),
        exists=item.get("exists", {}).get("BOOL", True),
    )
