"""The command engine's store: one repository for every dialect's commands, over two DynamoDB tables,
one per id scheme, both keyed by ``deviceId`` (hash) so a device's commands are one partition.

- ``SEQUENCE`` (``RpcTable``, ``RPC_TABLE``; ThingsBoard, later ThingsPro): range key ``seq`` (N).
  ``seq = 0`` is the device's counter (``last``): one atomic ``ADD`` gives the ids 1, 2, 3…
  ``openSeq`` (= ``seq``) exists only while a command is QUEUED or DELIVERED, so the sparse local index
  ``ByOpenSeq`` lists exactly what a poll may deliver, in id order; ``ByRpcId`` finds a command by its
  UUID (``rpcId``). TTL attribute ``expiresAt`` (epoch s); the deadline is ``expirationTime`` (ms).
- ``UUID`` (``CommandsTable``, ``COMMANDS_TABLE``; ThingDatas, later Xyte): range key ``executionId``
  (S), so an operator-chosen id is unique by a plain conditional put; ``ByCreatedAt`` lists newest
  first. TTL attribute ``purgeAt``; the deadline is ``expiresAt`` (ms).

Why two tables and not one: a range key has one type, and an integer range key is what gives the
sequence scheme its id order (and the poll index) for free; and both tables already hold data under
``Retain`` with different key schemas and TTL attributes, which a table cannot change in place. Each
layout below names the same canonical fields in its table's attribute names, so one codec, one set of
writes and one listing serve both.

Writes: ``create`` (conditional on a new key), ``replace`` (a full put conditional on the ``version``
that was read) and ``answer`` (one UpdateItem conditional on the state awaiting an answer and the
deadline not passed, which returns the stored item when the condition fails, so deciding what the
failure means costs no second read). Status words are the vocabulary's; JSON values are JSON text;
a dialect's own ``extras`` are stored as S, N or BOOL under their own names. Reads are strongly
consistent (local indexes, never global ones).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from fleetgate.data.aws import PageKey, client, decode_cursor, n, query_page, s, translate, translated_errors
from fleetgate.domain.commands import (
    AWAITING,
    POLLABLE,
    TERMINAL,
    Answer,
    Command,
    IdScheme,
    Vocabulary,
)
from fleetgate.errors import InvalidRequest

COUNTER = 0
CANONICAL = (
    "uuid",
    "name",
    "params",
    "oneway",
    "state",
    "created",
    "expires",
    "retain_until",
    "updated",
    "retries",
    "deliveries",
    "delivered_time",
    "last_delivered_time",
    "completed_time",
    "result",
    "responded_time",
    "device_timestamp",
    "client_token",
    "reason",
    "version",
)
_COMMON = {
    "params": "params",
    "oneway": "oneway",
    "state": "status",
    "retries": "retries",
    "deliveries": "deliveries",
    "delivered_time": "deliveredTime",
    "last_delivered_time": "lastDeliveredTime",
    "completed_time": "completedTime",
    "device_timestamp": "deviceTimestamp",
    "client_token": "clientToken",
    "reason": "statusReason",
    "version": "version",
}


@dataclass(frozen=True)
class Layout:
    scheme: IdScheme
    sort_key: str
    names: Mapping[str, str]  # canonical field → attribute name
    uuid_index: str | None = None  # SEQUENCE: finds a command by its UUID
    open_index: str | None = None  # SEQUENCE: the poll queue
    open_attribute: str | None = None
    list_index: str | None = None  # None: listed by the table's range key
    list_key: str | None = None


SEQUENCE = Layout(
    IdScheme.SEQUENCE,
    "seq",
    {
        **_COMMON,
        "uuid": "rpcId",
        "name": "method",
        "created": "createdTime",
        "expires": "expirationTime",
        "retain_until": "expiresAt",
        "updated": "updatedTime",
        "result": "response",
        "responded_time": "respondedTime",
    },
    uuid_index="ByRpcId",
    open_index="ByOpenSeq",
    open_attribute="openSeq",
)
UUID = Layout(
    IdScheme.UUID,
    "executionId",
    {
        **_COMMON,
        "uuid": "executionId",
        "name": "action",
        "created": "createdAt",
        "expires": "expiresAt",
        "retain_until": "purgeAt",
        "updated": "updatedAt",
        "result": "result",
        "responded_time": "respondedAt",
    },
    list_index="ByCreatedAt",
    list_key="createdAt",
)
LAYOUTS = {IdScheme.SEQUENCE: SEQUENCE, IdScheme.UUID: UUID}


class CommandRepository:
    def __init__(self, table: str, vocabulary: Vocabulary) -> None:
        self.table = table
        self.vocabulary = vocabulary
        self.layout = LAYOUTS[vocabulary.id_scheme]

    # ------------------------------------------------------------------ writes
    def next_seq(self, device_id: str) -> int:
        """The device's next integer id (1 for its first command); atomic under concurrent senders."""
        with translated_errors():
            result = client("dynamodb").update_item(
                TableName=self.table,
                Key=self._key(device_id, COUNTER),
                UpdateExpression="ADD #last :one",
                ExpressionAttributeNames={"#last": "last"},
                ExpressionAttributeValues={":one": n(1)},
                ReturnValues="UPDATED_NEW",
            )
        return int(result["Attributes"]["last"]["N"])

    def create(self, command: Command) -> None:
        """``Conflict`` when the device already has a command with this key."""
        with translated_errors(conflict=f"Command {command.key} of this device already exists"):
            client("dynamodb").put_item(
                TableName=self.table,
                Item=self._item(command),
                ConditionExpression=f"attribute_not_exists({self.layout.sort_key})",
            )

    def replace(self, current: Command, new: Command) -> None:
        """Store ``new`` if the stored command is still ``current`` (same version), else ``Conflict``:
        one UpdateItem that sets what changed and removes what ``new`` no longer has."""
        before, after = self._item(current), self._item(new)
        key = self._key(current.device_id, current.key)
        changed = [name for name, value in after.items() if name not in key and before.get(name) != value]
        dropped = [name for name in before if name not in after]
        names = {f"#c{i}": name for i, name in enumerate(changed)}
        names.update({f"#d{i}": name for i, name in enumerate(dropped)})
        values = {f":c{i}": after[name] for i, name in enumerate(changed)}
        update = "SET " + ", ".join(f"#c{i} = :c{i}" for i in range(len(changed)))
        if dropped:
            update += " REMOVE " + ", ".join(f"#d{i}" for i in range(len(dropped)))
        names["#version"] = self.layout.names["version"]
        if current.version:
            condition = "#version = :read"
            values[":read"] = n(current.version)
        else:  # written before commands carried a version
            condition = "attribute_not_exists(#version)"
        with translated_errors(conflict=f"Command {current.key} was changed concurrently"):
            client("dynamodb").update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def answer(self, device_id: str, key: int | str, report: Answer, now: int) -> tuple[Command | None, bool]:
        """Record a device's report with one UpdateItem, if the command awaits an answer and its
        deadline has not passed. Returns the recorded command and True; else the stored command as
        the failed condition saw it (None: there is none) and False."""
        if isinstance(key, int) and key <= COUNTER:
            return None, False
        f = self.layout.names
        changes: dict[str, dict[str, Any]] = {
            f["state"]: s(self.vocabulary.status(report.state)),
            f["responded_time"]: n(now),
            f["updated"]: n(now),
        }
        optional = {
            f["result"]: None if report.result_json is None else s(report.result_json),
            f["device_timestamp"]: None if report.device_timestamp is None else n(report.device_timestamp),
            f["client_token"]: None if report.client_token is None else s(report.client_token),
            f["completed_time"]: n(now) if report.state in TERMINAL else None,
        }
        changes.update({name: value for name, value in optional.items() if value is not None})
        names = {f"#a{i}": name for i, name in enumerate(changes)}
        values = {f":a{i}": value for i, value in enumerate(changes.values())}
        update = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(changes)))
        awaiting = sorted(
            self.vocabulary.statuses[state] for state in AWAITING if state in self.vocabulary.statuses
        )
        placeholders = [":" + re.sub(r"\W", "_", word.lower()) for word in awaiting]
        values.update(
            {placeholder: s(word) for placeholder, word in zip(placeholders, awaiting, strict=True)}
        )
        values.update({":now": n(now), ":one": n(1)})
        names.update({"#status": f["state"], "#version": f["version"]})
        update += " ADD #version :one"
        if self.layout.open_attribute and report.state in TERMINAL:
            names["#open"] = self.layout.open_attribute
            update += " REMOVE #open"
        status = (
            f"#status = {placeholders[0]}"
            if len(placeholders) == 1
            else f"#status IN ({', '.join(placeholders)})"
        )
        try:
            result = client("dynamodb").update_item(
                TableName=self.table,
                Key=self._key(device_id, key),
                UpdateExpression=update,
                ConditionExpression=f"{status} AND {f['expires']} > :now",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise translate(exc) from exc
            item = exc.response.get("Item")
            return (self._command(item) if item else None), False
        return self._command(result["Attributes"]), True

    # ------------------------------------------------------------------ reads
    def get(self, device_id: str, key: int | str) -> Command | None:
        """A device's command by its store key (``seq`` or UUID), or None."""
        if isinstance(key, int) and key <= COUNTER:
            return None
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=self._key(device_id, key), ConsistentRead=True)
                .get("Item")
            )
        return self._command(item) if item else None

    def find(self, device_id: str, uuid: str) -> Command | None:
        """A device's command by its UUID, or None."""
        if self.layout.uuid_index is None:
            return self.get(device_id, uuid)
        with translated_errors():
            items = (
                client("dynamodb")
                .query(
                    TableName=self.table,
                    IndexName=self.layout.uuid_index,
                    KeyConditionExpression="deviceId = :d AND #u = :u",
                    ExpressionAttributeNames={"#u": self.layout.names["uuid"]},
                    ExpressionAttributeValues={":d": s(device_id), ":u": s(uuid)},
                    ConsistentRead=True,
                )
                .get("Items", [])
            )
        return self._command(items[0]) if items else None

    def pollable(self, device_id: str) -> list[Command]:
        """The device's QUEUED and DELIVERED commands, in id order (the poll queue)."""
        if self.layout.open_index is None:
            raise ValueError(f"{self.layout.scheme} commands have no poll queue")
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": self.layout.open_index,
            "KeyConditionExpression": "deviceId = :d",
            "ExpressionAttributeValues": {":d": s(device_id)},
            "ConsistentRead": True,
        }
        key = self._page_key(device_id, self.layout.open_attribute)
        found: list[Command] = []
        token: str | None = None
        while True:
            items, token = query_page(params, token, key)
            found.extend(self._command(item) for item in items)
            if token is None:
                return found

    def list_page(
        self, device_id: str, limit: int, next_token: str | None
    ) -> tuple[list[Command], str | None]:
        """A device's commands, newest first."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "deviceId = :d",
            "ExpressionAttributeValues": {":d": s(device_id)},
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": limit,
        }
        if self.layout.list_index is None:  # the range key, above the counter
            params["KeyConditionExpression"] += f" AND {self.layout.sort_key} > :counter"
            params["ExpressionAttributeValues"][":counter"] = n(COUNTER)
        else:
            params["IndexName"] = self.layout.list_index
        start = decode_cursor(next_token)
        if (
            start is not None
            and self.layout.scheme is IdScheme.SEQUENCE
            and _number(start, self.layout.sort_key) <= COUNTER
        ):
            raise InvalidRequest("Invalid nextToken")  # the counter item is never listed
        items, token = query_page(params, next_token, self._page_key(device_id, self.layout.list_key))
        return [self._command(item) for item in items], token

    # ------------------------------------------------------------------ item shape
    def _key(self, device_id: str, key: int | str) -> dict[str, Any]:
        return {"deviceId": s(device_id), self.layout.sort_key: n(key) if isinstance(key, int) else s(key)}

    def _item(self, command: Command) -> dict[str, Any]:
        f = self.layout.names
        item: dict[str, Any] = {
            **self._key(command.device_id, command.key),
            f["uuid"]: s(command.uuid),
            f["name"]: s(command.name),
            f["params"]: s(command.params_json),
            f["oneway"]: {"BOOL": command.oneway},
            f["state"]: s(self.vocabulary.status(command.state)),
            f["created"]: n(command.created),
            f["expires"]: n(command.expires),
            f["retain_until"]: n(command.retain_until),
            f["updated"]: n(command.updated),
            f["deliveries"]: n(command.deliveries),
            f["version"]: n(command.version),
        }
        numbers = {
            "retries": command.retries,
            "delivered_time": command.delivered_time,
            "last_delivered_time": command.last_delivered_time,
            "completed_time": command.completed_time,
            "responded_time": command.responded_time,
            "device_timestamp": command.device_timestamp,
        }
        texts = {
            "result": command.result_json,
            "client_token": command.client_token,
            "reason": command.reason,
        }
        item.update({f[name]: n(value) for name, value in numbers.items() if value is not None})
        item.update({f[name]: s(value) for name, value in texts.items() if value is not None})
        for name, value in command.extras.items():
            item[name] = (
                {"BOOL": value}
                if isinstance(value, bool)
                else n(value)
                if isinstance(value, int)
                else s(value)
            )
        if self.layout.open_attribute and command.seq is not None and command.state in POLLABLE:
            item[self.layout.open_attribute] = n(command.seq)
        return item

    def _command(self, item: Mapping[str, Any]) -> Command:
        f = self.layout.names

        def number(name: str) -> int | None:
            return int(item[f[name]]["N"]) if f[name] in item else None

        def text(name: str) -> str | None:
            return item[f[name]]["S"] if f[name] in item else None

        known = {"deviceId", self.layout.sort_key, self.layout.open_attribute, *f.values()}
        extras = {name: _plain(value) for name, value in item.items() if name not in known}
        created = int(item[f["created"]]["N"])
        return Command(
            device_id=item["deviceId"]["S"],
            uuid=item[f["uuid"]]["S"],
            seq=int(item["seq"]["N"]) if self.layout.scheme is IdScheme.SEQUENCE else None,
            name=item[f["name"]]["S"],
            params_json=item[f["params"]]["S"],
            state=self.vocabulary.state(item[f["state"]]["S"]),
            created=created,
            expires=int(item[f["expires"]]["N"]),
            retain_until=int(item[f["retain_until"]]["N"]),
            updated=number("updated") or created,
            oneway=item[f["oneway"]]["BOOL"] if f["oneway"] in item else False,
            retries=number("retries"),
            deliveries=number("deliveries") or 0,
            delivered_time=number("delivered_time"),
            last_delivered_time=number("last_delivered_time"),
            completed_time=number("completed_time"),
            result_json=text("result"),
            responded_time=number("responded_time"),
            device_timestamp=number("device_timestamp"),
            client_token=text("client_token"),
            reason=text("reason"),
            extras=extras,
            version=number("version") or 0,
        )

    def _page_key(self, device_id: str, index_key: str | None) -> PageKey:
        """The shape of a cursor this repository issues for ``device_id``: the table's key, plus the
        numeric sort key of the index it queries."""
        types = {
            "deviceId": "S",
            self.layout.sort_key: "N" if self.layout.scheme is IdScheme.SEQUENCE else "S",
        }
        if index_key:
            types[index_key] = "N"
        return PageKey(types, ("deviceId", device_id))


def _number(key: dict[str, Any], name: str) -> float:
    """A cursor's number attribute (already checked by ``PageKey`` when it matters); -inf otherwise."""
    try:
        return float(key[name]["N"])
    except (KeyError, TypeError, ValueError):
        return float("-inf")


def _plain(value: Mapping[str, Any]) -> str | int | bool:
    if "BOOL" in value:
        return bool(value["BOOL"])
    if "N" in value:
        return int(value["N"])
    return str(value["S"])
