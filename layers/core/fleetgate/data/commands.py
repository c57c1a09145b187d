"""Command executions in DynamoDB (``COMMANDS_TABLE``), keyed ``deviceId`` + ``executionId``.

- One item per execution: ``thingName``, ``action``, ``params`` (compact JSON text), ``ttl`` (s),
  ``status``, ``createdAt`` / ``expiresAt`` / ``updatedAt`` (epoch ms) and, once known, ``result``
  (JSON text), ``respondedAt``, ``deviceTimestamp``, ``clientToken``, ``statusReason``.
- ``purgeAt`` (epoch seconds) is the table's TTL attribute; ``expiresAt`` is the command's deadline.
- The local index ``ByCreatedAt`` lists a device's executions by creation time, strongly consistent.
- Every state change is one UpdateItem conditional on the stored status being SENT (and on the deadline
  when it matters); when the condition fails, the same call returns the stored item
  (``ReturnValuesOnConditionCheckFailure``), so deciding what the failure means costs no second read.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from fleetgate.data.aws import client, decode_cursor, encode_cursor, n, s, translate, translated_errors
from fleetgate.domain.commands import CommandResponse, CommandStatus, Execution
from fleetgate.errors import InvalidRequest, NotFound

CREATED_INDEX = "ByCreatedAt"


class Deadline(Enum):
    """What a state change requires of the execution's ``expiresAt`` besides being SENT."""

    ANY = ""
    NOT_PASSED = " AND expiresAt > :now"
    PASSED = " AND expiresAt <= :now"


class CommandRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    # ------------------------------------------------------------------ writes
    def create(self, execution: Execution) -> None:
        with translated_errors(conflict=f"Command execution {execution.execution_id} already exists"):
            client("dynamodb").put_item(
                TableName=self.table,
                Item=_item(execution),
                ConditionExpression="attribute_not_exists(executionId)",
            )

    def complete(self, device_id: str, response: CommandResponse, now: int) -> tuple[Execution, bool]:
        """Record a device's answer if the execution is SENT and its deadline has not passed: one
        conditional UpdateItem. Returns the execution and True when written; else the stored execution
        (as the failed condition saw it) and False. ``NotFound`` when the device has no such execution."""
        changes: dict[str, Any] = {
            "status": s(response.status.value),
            "respondedAt": n(now),
            "updatedAt": n(now),
        }
        if response.result_json is not None:
            changes["result"] = s(response.result_json)
        if response.device_timestamp is not None:
            changes["deviceTimestamp"] = n(response.device_timestamp)
        if response.client_token is not None:
            changes["clientToken"] = s(response.client_token)
        return self._change(device_id, response.execution_id, changes, Deadline.NOT_PASSED, now)

    def finish(self, new: Execution, deadline: Deadline, now: int) -> tuple[Execution, bool]:
        """Record ``new`` (a SENT execution's end by the service or the operator: CANCELED, TIMED_OUT,
        FAILED) if the stored execution is still SENT and meets ``deadline``. Same answer as
        ``complete``."""
        changes: dict[str, Any] = {"status": s(new.status.value), "updatedAt": n(new.updated_at)}
        if new.status_reason is not None:
            changes["statusReason"] = s(new.status_reason)
        return self._change(new.device_id, new.execution_id, changes, deadline, now)

    def _change(
        self, device_id: str, execution_id: str, changes: dict[str, Any], deadline: Deadline, now: int
    ) -> tuple[Execution, bool]:
        names = {f"#a{i}": name for i, name in enumerate(changes)}
        values = {f":a{i}": value for i, value in enumerate(changes.values())}
        values[":sent"] = s(CommandStatus.SENT.value)
        if deadline is not Deadline.ANY:
            values[":now"] = n(now)
        names["#status"] = "status"
        try:
            result = client("dynamodb").update_item(
                TableName=self.table,
                Key=_key(device_id, execution_id),
                UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(changes))),
                ConditionExpression="#status = :sent" + deadline.value,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise translate(exc) from exc
            item = exc.response.get("Item")
            if not item:
                raise _not_found(device_id, execution_id) from exc
            return _execution_from(item), False
        return _execution_from(result["Attributes"]), True

    # ------------------------------------------------------------------ reads
    def get(self, device_id: str, execution_id: str) -> Execution:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=_key(device_id, execution_id), ConsistentRead=True)
                .get("Item")
            )
        if not item:
            raise _not_found(device_id, execution_id)
        return _execution_from(item)

    def list_page(
        self, device_id: str, limit: int, next_token: str | None
    ) -> tuple[list[Execution], str | None]:
        """A device's executions, newest first."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": CREATED_INDEX,
            "KeyConditionExpression": "deviceId = :d",
            "ExpressionAttributeValues": {":d": s(device_id)},
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": limit,
        }
        start = decode_cursor(next_token)
        if start is not None:
            params["ExclusiveStartKey"] = _checked_cursor(start, device_id)
        with translated_errors():
            page = client("dynamodb").query(**params)
        found = [_execution_from(item) for item in page.get("Items", [])]
        return found, encode_cursor(page.get("LastEvaluatedKey"))


# --------------------------------------------------------------------------- item shape
def _key(device_id: str, execution_id: str) -> dict[str, Any]:
    return {"deviceId": s(device_id), "executionId": s(execution_id)}


def _not_found(device_id: str, execution_id: str) -> NotFound:
    return NotFound(f"Command execution '{execution_id}' not found for this thing")


def _item(execution: Execution) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_key(execution.device_id, execution.execution_id),
        "thingName": s(execution.thing_name),
        "action": s(execution.action),
        "params": s(execution.params_json),
        "ttl": n(execution.ttl),
        "status": s(execution.status.value),
        "createdAt": n(execution.created_at),
        "expiresAt": n(execution.expires_at),
        "purgeAt": n(execution.purge_at),
        "updatedAt": n(execution.updated_at),
    }
    optional = {
        "result": None if execution.result_json is None else s(execution.result_json),
        "respondedAt": None if execution.responded_at is None else n(execution.responded_at),
        "deviceTimestamp": None if execution.device_timestamp is None else n(execution.device_timestamp),
        "clientToken": None if execution.client_token is None else s(execution.client_token),
        "statusReason": None if execution.status_reason is None else s(execution.status_reason),
    }
    item.update({name: value for name, value in optional.items() if value is not None})
    return item


def _execution_from(item: dict[str, Any]) -> Execution:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def number(name: str) -> int | None:
        return int(item[name]["N"]) if name in item else None

    return Execution(
        device_id=item["deviceId"]["S"],
        execution_id=item["executionId"]["S"],
        thing_name=item["thingName"]["S"],
        action=item["action"]["S"],
        params_json=item["params"]["S"],
        ttl=int(item["ttl"]["N"]),
        status=CommandStatus(item["status"]["S"]),
        created_at=int(item["createdAt"]["N"]),
        expires_at=int(item["expiresAt"]["N"]),
        purge_at=int(item["purgeAt"]["N"]),
        updated_at=int(item["updatedAt"]["N"]),
        result_json=text("result"),
        responded_at=number("respondedAt"),
        device_timestamp=number("deviceTimestamp"),
        client_token=text("clientToken"),
        status_reason=text("statusReason"),
    )


def _checked_cursor(key: dict[str, Any], device_id: str) -> dict[str, Any]:
    """A pagination token is valid only for the device it was issued for."""
    try:
        valid = (
            set(key) == {"deviceId", "executionId", "createdAt"}
            and key["deviceId"] == {"S": device_id}
            and set(key["executionId"]) == {"S"}
            and isinstance(key["executionId"]["S"], str)
            and set(key["createdAt"]) == {"N"}
            and isinstance(key["createdAt"]["N"], str)
            and key["createdAt"]["N"].isdigit()
        )
    except (TypeError, AttributeError):
        valid = False
    if not valid:
        raise InvalidRequest("Invalid nextToken")
    return key
