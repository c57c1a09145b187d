"""Shadow documents in DynamoDB (``SHADOWS_TABLE``), keyed ``deviceId`` + ``shadowName``.

The document (state and metadata) is stored as one JSON string, so numbers keep their JSON form
(``42.0`` stays a double, ``42`` a long); ``version`` is a number attribute that every write checks,
which is what makes concurrent writers safe.
"""

from __future__ import annotations

import json
from typing import Any

from fleetgate.data.aws import client, n, s, translated_errors
from fleetgate.domain.shadow import Shadow
from fleetgate.errors import Conflict, VersionConflict


class ShadowRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def get(self, device_id: str, name: str) -> Shadow:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(
                    TableName=self.table,
                    Key={"deviceId": s(device_id), "shadowName": s(name)},
                    ConsistentRead=True,
                )
                .get("Item")
            )
        if not item:
            return Shadow()
        doc = json.loads(item["doc"]["S"])
        return Shadow(
            state=doc.get("state", {}),
            metadata=doc.get("metadata", {}),
            version=int(item["version"]["N"]),
            timestamp=int(item["updatedAt"]["N"]),
            exists=item.get("exists", {}).get("BOOL", True),
        )

    def save(self, device_id: str, name: str, shadow: Shadow, *, expected_version: int) -> None:
        """Write ``shadow`` if the stored version is still ``expected_version`` (0: no item yet; a stored
        item always has version 1 or more)."""
        doc = json.dumps({"state": shadow.state, "metadata": shadow.metadata}, separators=(",", ":"))
        item: dict[str, Any] = {
            "deviceId": s(device_id),
            "shadowName": s(name),
            "doc": s(doc),
            "version": n(shadow.version),
            "updatedAt": n(shadow.timestamp),
            "exists": {"BOOL": shadow.exists},
        }
        params: dict[str, Any] = {"TableName": self.table, "Item": item}
        if expected_version == 0:
            params["ConditionExpression"] = "attribute_not_exists(deviceId)"
        else:
            params["ConditionExpression"] = "version = :expected"
            params["ExpressionAttributeValues"] = {":expected": n(expected_version)}
        try:
            with translated_errors():
                client("dynamodb").put_item(**params)
        except Conflict as exc:
            raise VersionConflict() from exc

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
