"""Server-side RPCs in DynamoDB (``RPC_TABLE``), keyed ``deviceId`` + ``seq`` (a number).

- ``seq = 0`` is the device's counter (``last``): one atomic ``ADD`` gives the ids 1, 2, 3…
- ``seq = n`` is RPC n. Its JSON values (``params``, ``response``, ``additionalInfo``) are stored as
  JSON strings; ``version`` is checked by every write, so two writers (two polls, a poll and a reply,
  a poll and the operator) can never both change the same state.
- ``openSeq`` (equal to ``seq``) exists only while the RPC is QUEUED or DELIVERED, so the sparse local
  index ``ByOpenSeq`` lists exactly what a poll may deliver, in id order. Local indexes are read with
  strong consistency, unlike global ones.
- The local index ``ByRpcId`` finds an RPC of a device by its operator-facing UUID.
- ``expiresAt`` (TTL) removes the record ``RPC_RETENTION_DAYS`` after its expiration.
"""

from __future__ import annotations

import json
from typing import Any

from fleetgate.data.aws import client, decode_cursor, encode_cursor, n, s, translated_errors
from fleetgate.domain.rpc import OPEN, Rpc, RpcStatus
from fleetgate.errors import InvalidRequest
from fleetgate.jsonutil import dumps

COUNTER = 0
OPEN_INDEX = "ByOpenSeq"
RPC_ID_INDEX = "ByRpcId"
MAX_PAGE_SIZE = 100


class RpcRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    # ------------------------------------------------------------------ writes
    def next_id(self, device_id: str) -> int:
        """The device's next RPC id (1 for its first RPC); atomic under concurrent senders."""
        with translated_errors():
            result = client("dynamodb").update_item(
                TableName=self.table,
                Key=_key(device_id, COUNTER),
                UpdateExpression="ADD #last :one",
                ExpressionAttributeNames={"#last": "last"},
                ExpressionAttributeValues={":one": n(1)},
                ReturnValues="UPDATED_NEW",
            )
        return int(result["Attributes"]["last"]["N"])

    def create(self, rpc: Rpc) -> None:
        with translated_errors(conflict=f"RPC {rpc.id} of device {rpc.device_id} already exists"):
            client("dynamodb").put_item(
                TableName=self.table, Item=_item(rpc), ConditionExpression="attribute_not_exists(seq)"
            )

    def replace(self, current: Rpc, new: Rpc) -> None:
        """Store ``new`` if the stored RPC is still ``current`` (same version); else ``Conflict``."""
        with translated_errors(conflict=f"RPC {current.id} was changed concurrently"):
            client("dynamodb").put_item(
                TableName=self.table,
                Item=_item(new),
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": n(current.version)},
            )

    # ------------------------------------------------------------------ reads
    def get(self, device_id: str, rpc_id: int) -> Rpc | None:
        """RPC ``rpc_id`` (the device's integer id) of a device, or None."""
        if rpc_id <= COUNTER:
            return None
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=_key(device_id, rpc_id), ConsistentRead=True)
                .get("Item")
            )
        return _rpc_from(item) if item else None

    def find(self, device_id: str, rpc_uuid: str) -> Rpc | None:
        """An RPC of a device by its operator-facing UUID, or None."""
        with translated_errors():
            items = (
                client("dynamodb")
                .query(
                    TableName=self.table,
                    IndexName=RPC_ID_INDEX,
                    KeyConditionExpression="deviceId = :d AND rpcId = :r",
                    ExpressionAttributeValues={":d": s(device_id), ":r": s(rpc_uuid)},
                    ConsistentRead=True,
                )
                .get("Items", [])
            )
        return _rpc_from(items[0]) if items else None

    def open_rpcs(self, device_id: str) -> list[Rpc]:
        """The device's QUEUED and DELIVERED RPCs, in id order."""
        ddb = client("dynamodb")
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": OPEN_INDEX,
            "KeyConditionExpression": "deviceId = :d",
            "ExpressionAttributeValues": {":d": s(device_id)},
            "ConsistentRead": True,
        }
        found: list[Rpc] = []
        while True:
            with translated_errors():
                page = ddb.query(**params)
            found.extend(_rpc_from(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def list(self, device_id: str, limit: int, next_token: str | None) -> tuple[list[Rpc], str | None]:
        """The device's RPCs, newest first."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "deviceId = :d AND seq > :counter",
            "ExpressionAttributeValues": {":d": s(device_id), ":counter": n(COUNTER)},
            "ScanIndexForward": False,
            "Limit": min(limit, MAX_PAGE_SIZE),
        }
        start = decode_cursor(next_token)
        if start is not None:
            params["ExclusiveStartKey"] = _checked_cursor(start, device_id)
        with translated_errors():
            page = client("dynamodb").query(**params)
        rpcs = [_rpc_from(item) for item in page.get("Items", [])]
        return rpcs, encode_cursor(page.get("LastEvaluatedKey"))


# --------------------------------------------------------------------------- item shape
def _key(device_id: str, seq: int) -> dict[str, Any]:
    return {"deviceId": s(device_id), "seq": n(seq)}


def _item(rpc: Rpc) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_key(rpc.device_id, rpc.id),
        "rpcId": s(rpc.rpc_id),
        "method": s(rpc.method),
        "params": s(dumps(rpc.params)),
        "oneway": {"BOOL": rpc.oneway},
        "persistent": {"BOOL": rpc.persistent},
        "status": s(rpc.status.value),
        "createdTime": n(rpc.created_time),
        "expirationTime": n(rpc.expiration_time),
        "expiresAt": n(rpc.retain_until),
        "deliveries": n(rpc.deliveries),
        "version": n(rpc.version),
    }
    if rpc.status in OPEN:
        item["openSeq"] = n(rpc.id)
    optional_numbers = {
        "retries": rpc.retries,
        "deliveredTime": rpc.delivered_time,
        "lastDeliveredTime": rpc.last_delivered_time,
        "completedTime": rpc.completed_time,
    }
    item.update({name: n(value) for name, value in optional_numbers.items() if value is not None})
    if rpc.additional_info is not None:
        item["additionalInfo"] = s(dumps(rpc.additional_info))
    if rpc.status == RpcStatus.SUCCESSFUL and not rpc.oneway:
        item["response"] = s(dumps(rpc.response))
    return item


def _rpc_from(item: dict[str, Any]) -> Rpc:
    def number(name: str) -> int | None:
        return int(item[name]["N"]) if name in item else None

    return Rpc(
        device_id=item["deviceId"]["S"],
        id=int(item["seq"]["N"]),
        rpc_id=item["rpcId"]["S"],
        method=item["method"]["S"],
        params=json.loads(item["params"]["S"]),
        oneway=item["oneway"]["BOOL"],
        persistent=item["persistent"]["BOOL"],
        status=RpcStatus(item["status"]["S"]),
        created_time=int(item["createdTime"]["N"]),
        expiration_time=int(item["expirationTime"]["N"]),
        retain_until=int(item["expiresAt"]["N"]),
        retries=number("retries"),
        additional_info=json.loads(item["additionalInfo"]["S"]) if "additionalInfo" in item else None,
        deliveries=int(item["deliveries"]["N"]),
        delivered_time=number("deliveredTime"),
        last_delivered_time=number("lastDeliveredTime"),
        completed_time=number("completedTime"),
        response=json.loads(item["response"]["S"]) if "response" in item else None,
        version=int(item["version"]["N"]),
    )


def _checked_cursor(key: dict[str, Any], device_id: str) -> dict[str, Any]:
    """A pagination token is only valid for the device it was issued for."""
    try:
        valid = (
            set(key) == {"deviceId", "seq"}
            and key["deviceId"] == {"S": device_id}
            and key["seq"] == {"N": key["seq"]["N"]}
            and int(key["seq"]["N"]) > COUNTER
        )
    except (KeyError, TypeError, ValueError):
        valid = False
    if not valid:
        raise InvalidRequest("Invalid nextToken")
    return key
