"""The history of accepted shadow reports in DynamoDB (``SHADOW_HISTORY_TABLE``).

One item per accepted update that touched the reported side, keyed ``deviceId`` +
``entry = <shadowName>#<version, 10 digits>``: one shadow's entries sort by version, so the newest are
read first with a backwards query, and versions never repeat (a deleted shadow's version carries on),
so an entry is never overwritten. An entry is written in the same transaction as the shadow it
records (see ``ShadowRepository.save``): a report that is refused or retried leaves nothing behind.
Entries expire through DynamoDB TTL (``expiresAt``, epoch seconds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fleetgate.data.aws import PageKey, client, n, query_page, s, translated_errors, write_batches


@dataclass(frozen=True)
class HistoryEntry:
    shadow_name: str
    version: int
    timestamp: int  # epoch seconds of the update
    reported: Any  # the reported patch as the update sent it (None: the section was deleted)
    source: str  # which API reported it: "thingdatas", "thingsboard"
    expires_at: int  # epoch seconds
    client_token: str | None = None


class ShadowHistoryRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def put_request(self, device_id: str, entry: HistoryEntry) -> dict[str, Any]:
        """The ``TransactWriteItems`` element that writes ``entry``."""
        item: dict[str, Any] = {
            "deviceId": s(device_id),
            "entry": s(_entry_key(entry.shadow_name, entry.version)),
            "version": n(entry.version),
            "timestamp": n(entry.timestamp),
            "reported": s(json.dumps(entry.reported, separators=(",", ":"), ensure_ascii=False)),
            "source": s(entry.source),
            "expiresAt": n(entry.expires_at),
        }
        if entry.client_token is not None:
            item["clientToken"] = s(entry.client_token)
        return {"Put": {"TableName": self.table, "Item": item}}

    def page(
        self, device_id: str, shadow_name: str, limit: int, next_token: str | None
    ) -> tuple[list[HistoryEntry], str | None]:
        """One page of a shadow's history, newest first."""
        items, token = query_page(
            {
                "TableName": self.table,
                "KeyConditionExpression": "deviceId = :d AND begins_with(#e, :prefix)",
                "ExpressionAttributeNames": {"#e": "entry"},
                "ExpressionAttributeValues": {":d": s(device_id), ":prefix": s(f"{shadow_name}#")},
                "ScanIndexForward": False,
                "Limit": limit,
            },
            next_token,
            PageKey({"deviceId": "S", "entry": "S"}, ("deviceId", device_id), ("entry", f"{shadow_name}#")),
        )
        return [_entry_from(item) for item in items], token

    def delete_all(self, device_id: str) -> None:
        """Remove a device's whole history (when the device is deleted). Whatever a throttled batch
        leaves after a few rounds is left to TTL: the device, and so its history, is unreachable."""
        ddb = client("dynamodb")
        with translated_errors():
            pages = ddb.get_paginator("query").paginate(
                TableName=self.table,
                KeyConditionExpression="deviceId = :d",
                ExpressionAttributeValues={":d": s(device_id)},
                ProjectionExpression="deviceId, #e",
                ExpressionAttributeNames={"#e": "entry"},
            )
            for page in pages:
                write_batches(self.table, [{"DeleteRequest": {"Key": key}} for key in page.get("Items", [])])


def _entry_key(shadow_name: str, version: int) -> str:
    return f"{shadow_name}#{version:010d}"


def _entry_from(item: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(
        shadow_name=item["entry"]["S"].rsplit("#", 1)[0],
        version=int(item["version"]["N"]),
        timestamp=int(item["timestamp"]["N"]),
        reported=json.loads(item["reported"]["S"]),
        source=item["source"]["S"],
        expires_at=int(item["expiresAt"]["N"]),
        client_token=item["clientToken"]["S"] if "clientToken" in item else None,
    )
