"""What a Xyte device and the server keep in step, in the registry table (``DEVICES_TABLE``) under the
device's own key (``pk = DEVICE#<id>``, so they are deleted with the device), and its open commands in
the command engine's ``CommandsTable``.

Items (``sk``):
- ``XYTECONFIG#<version, 10 digits>``: one config version (``version``, ``name``, ``config`` JSON text,
  ``updatedAt`` ms, ``source``). Written in one transaction with the record's ``configVersion`` (a SET
  conditional on the version read), and the deletion of the version ``CONFIG_HISTORY`` below it.
- ``XYTECONFIGAPPLIED``: the version the device last acknowledged (``appliedVersion``, ``appliedAt``).
- ``XYTELICENSE#<license id>``: a license (``data`` JSON text, ``signature``, ``expiresAt``, ``action``,
  ``state``, ``revision``, ``error``, times). Writes are conditional on the revision and state read.
- ``XYTECHILD#<child id>``: a child device registered under this one (written by child registration).

The record's flags ``commandPending`` and ``newLicenses`` each have a counter (``commandSeq``,
``licenseSeq``) that every raise of the flag adds 1 to, in the same UpdateItem. A flag is cleared only
by a write conditional on the counter its clearer read before it found nothing open: a raise that came
in between fails the clear, so the flag is never false while something waits for the device.
"""

from __future__ import annotations

import json
from typing import Any

from fleetgate.data.aws import client, n, s, translated_errors
from fleetgate.data.commands import CommandRepository
from fleetgate.domain.commands import AWAITING, Command
from fleetgate.domain.xyte_sync import CONFIG_HISTORY, AppliedConfig, ConfigVersion, License
from fleetgate.errors import Conflict, NotFound
from fleetgate.jsonutil import dumps

CONFIG_PREFIX = "XYTECONFIG#"
APPLIED = "XYTECONFIGAPPLIED"
LICENSE_PREFIX = "XYTELICENSE#"
CHILD_PREFIX = "XYTECHILD#"
RECORD = "XYTE"
FLAGS = {"commandPending": "commandSeq", "newLicenses": "licenseSeq"}


def _pk(device_id: str) -> dict[str, str]:
    return s(f"DEVICE#{device_id}")


def _config_sk(version: int) -> str:
    return f"{CONFIG_PREFIX}{version:010d}"


def _config_from(item: dict[str, Any]) -> ConfigVersion:
    return ConfigVersion(
        device_id=item["pk"]["S"].removeprefix("DEVICE#"),
        version=int(item["version"]["N"]),
        name=item["name"]["S"],
        config=json.loads(item["config"]["S"]),
        updated=int(item["updatedAt"]["N"]),
        source=item["source"]["S"],
    )


def _license_item(found: License) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": _pk(found.device_id),
        "sk": s(LICENSE_PREFIX + found.id),
        "licenseId": s(found.id),
        "data": s(dumps(found.data)),
        "signature": s(found.signature),
        "action": s(found.action),
        "state": s(found.state),
        "createdAt": n(found.created),
        "updatedAt": n(found.updated),
        "revision": n(found.revision),
    }
    for name, value in (("expiresAt", found.expires_at), ("error", found.error)):
        if value is not None:
            item[name] = s(value)
    if found.answered is not None:
        item["answeredAt"] = n(found.answered)
    return item


def _license_from(item: dict[str, Any]) -> License:
    return License(
        device_id=item["pk"]["S"].removeprefix("DEVICE#"),
        id=item["licenseId"]["S"],
        data=json.loads(item["data"]["S"]),
        signature=item["signature"]["S"],
        expires_at=item["expiresAt"]["S"] if "expiresAt" in item else None,
        action=item["action"]["S"],
        state=item["state"]["S"],
        created=int(item["createdAt"]["N"]),
        updated=int(item["updatedAt"]["N"]),
        revision=int(item["revision"]["N"]),
        error=item["error"]["S"] if "error" in item else None,
        answered=int(item["answeredAt"]["N"]) if "answeredAt" in item else None,
    )


class XyteSyncRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    # ------------------------------------------------------------------ config
    def config(self, device_id: str, version: int) -> ConfigVersion | None:
        """Version ``version`` of the device's config (one strongly consistent GetItem), or None."""
        if version <= 0:
            return None
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(
                    TableName=self.table,
                    Key={"pk": _pk(device_id), "sk": s(_config_sk(version))},
                    ConsistentRead=True,
                )
                .get("Item")
            )
        return _config_from(item) if item else None

    def write_config(self, read_version: int, new: ConfigVersion) -> None:
        """Store ``new`` (version ``read_version + 1``) and set the record's ``configVersion`` to it, in
        one transaction conditional on the record still being at ``read_version``; the version
        ``CONFIG_HISTORY`` below goes in the same transaction. ``Conflict`` when another write won;
        ``NotFound`` when the device has no Xyte record."""
        assert new.version == read_version + 1
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": _pk(new.device_id), "sk": s(RECORD)},
                    "UpdateExpression": "SET configVersion = :new",
                    "ConditionExpression": "attribute_exists(pk) AND configVersion = :read",
                    "ExpressionAttributeValues": {":new": n(new.version), ":read": n(read_version)},
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        "pk": _pk(new.device_id),
                        "sk": s(_config_sk(new.version)),
                        "version": n(new.version),
                        "name": s(new.name),
                        "config": s(dumps(new.config)),
                        "updatedAt": n(new.updated),
                        "source": s(new.source),
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        if new.version > CONFIG_HISTORY:
            old = {"pk": _pk(new.device_id), "sk": s(_config_sk(new.version - CONFIG_HISTORY))}
            items.append({"Delete": {"TableName": self.table, "Key": old}})
        try:
            with translated_errors(conflict="The config was changed concurrently"):
                client("dynamodb").transact_write_items(TransactItems=items)
        except Conflict:
            if not self._has_record(new.device_id):
                raise NotFound(f"Device '{new.device_id}' is not a Xyte device") from None
            raise

    def config_versions(self, device_id: str) -> list[ConfigVersion]:
        """The versions kept (at most ``CONFIG_HISTORY``), newest first."""
        items = self._query_prefix(device_id, CONFIG_PREFIX, forward=False)
        return [_config_from(item) for item in items]

    def applied(self, device_id: str) -> AppliedConfig:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(
                    TableName=self.table, Key={"pk": _pk(device_id), "sk": s(APPLIED)}, ConsistentRead=True
                )
                .get("Item")
            )
        if not item:
            return AppliedConfig()
        return AppliedConfig(int(item["appliedVersion"]["N"]), int(item["appliedAt"]["N"]))

    def record_applied(self, device_id: str, version: int, now: int) -> None:
        """The device applied ``version``: kept unless it already acknowledged a later one."""
        try:
            with translated_errors():
                client("dynamodb").update_item(
                    TableName=self.table,
                    Key={"pk": _pk(device_id), "sk": s(APPLIED)},
                    UpdateExpression="SET appliedVersion = :v, appliedAt = :t",
                    ConditionExpression="attribute_not_exists(appliedVersion) OR appliedVersion <= :v",
                    ExpressionAttributeValues={":v": n(version), ":t": n(now)},
                )
        except Conflict:
            return  # a later version was acknowledged meanwhile: it stays

    # ------------------------------------------------------------------ flags
    def raise_flag(self, device_id: str, flag: str) -> None:
        """Set ``flag`` and add 1 to its counter, in one UpdateItem."""
        try:
            with translated_errors():
                client("dynamodb").update_item(
                    TableName=self.table,
                    Key={"pk": _pk(device_id), "sk": s(RECORD)},
                    UpdateExpression=f"SET {flag} = :t ADD {FLAGS[flag]} :one",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={":t": {"BOOL": True}, ":one": n(1)},
                )
        except Conflict as exc:
            raise NotFound(f"Device '{device_id}' is not a Xyte device") from exc

    def flag_counter(self, device_id: str, flag: str) -> tuple[bool, int]:
        """The flag and its counter, read strongly consistent (before looking for what is open)."""
        counter = FLAGS[flag]
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(
                    TableName=self.table,
                    Key={"pk": _pk(device_id), "sk": s(RECORD)},
                    ConsistentRead=True,
                    ProjectionExpression=f"{flag}, {counter}",
                )
                .get("Item")
            ) or {}
        return item.get(flag, {}).get("BOOL", False), int(item.get(counter, {}).get("N", 0))

    def clear_flag(self, device_id: str, flag: str, seen: int) -> bool:
        """Clear ``flag`` if its counter is still ``seen``; False when a raise came in between."""
        counter = FLAGS[flag]
        condition = f"{counter} = :seen" if seen else f"attribute_not_exists({counter})"
        values: dict[str, Any] = {":f": {"BOOL": False}}
        if seen:
            values[":seen"] = n(seen)
        try:
            with translated_errors():
                client("dynamodb").update_item(
                    TableName=self.table,
                    Key={"pk": _pk(device_id), "sk": s(RECORD)},
                    UpdateExpression=f"SET {flag} = :f",
                    ConditionExpression=f"attribute_exists(pk) AND {condition}",
                    ExpressionAttributeValues=values,
                )
        except Conflict:
            return False
        return True

    # ------------------------------------------------------------------ licenses
    def create_license(self, found: License) -> None:
        with translated_errors(conflict=f"License {found.id} already exists"):
            client("dynamodb").put_item(
                TableName=self.table,
                Item=_license_item(found),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def license(self, device_id: str, license_id: str) -> License | None:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(
                    TableName=self.table,
                    Key={"pk": _pk(device_id), "sk": s(LICENSE_PREFIX + license_id)},
                    ConsistentRead=True,
                )
                .get("Item")
            )
        return _license_from(item) if item else None

    def replace_license(self, current: License, new: License) -> None:
        """Store ``new`` if the stored license is still ``current`` (revision and state), else
        ``Conflict``."""
        with translated_errors(conflict=f"License {current.id} was changed concurrently"):
            client("dynamodb").put_item(
                TableName=self.table,
                Item=_license_item(new),
                ConditionExpression="revision = :r AND #state = :s",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":r": n(current.revision), ":s": s(current.state)},
            )

    def licenses(self, device_id: str) -> list[License]:
        """The device's licenses, in id order."""
        return [_license_from(item) for item in self._query_prefix(device_id, LICENSE_PREFIX)]

    # ------------------------------------------------------------------ children
    def child_ids(self, device_id: str) -> list[str]:
        items = self._query_prefix(device_id, CHILD_PREFIX, projection="sk")
        return [item["sk"]["S"].removeprefix(CHILD_PREFIX) for item in items]

    # ------------------------------------------------------------------ helpers
    def _query_prefix(
        self, device_id: str, prefix: str, *, forward: bool = True, projection: str | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": _pk(device_id), ":prefix": s(prefix)},
            "ConsistentRead": True,
            "ScanIndexForward": forward,
        }
        if projection:
            params["ProjectionExpression"] = projection
        items: list[dict[str, Any]] = []
        ddb = client("dynamodb")
        while True:
            with translated_errors():
                page = ddb.query(**params)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _has_record(self, device_id: str) -> bool:
        with translated_errors():
            item = client("dynamodb").get_item(
                TableName=self.table,
                Key={"pk": _pk(device_id), "sk": s(RECORD)},
                ConsistentRead=True,
                ProjectionExpression="pk",
            )
        return "Item" in item


class XyteCommandRepository(CommandRepository):
    """The engine's repository, plus what Xyte asks of the UUID table: a device's open commands."""

    def open_commands(self, device_id: str) -> list[Command]:
        """The device's pending and in-progress commands, oldest first (``ByCreatedAt`` ascending,
        filtered on the status, strongly consistent: reads every command the table retains for the
        device)."""
        f = self.layout.names
        words = sorted(self.vocabulary.status(state) for state in AWAITING)
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": self.layout.list_index,
            "KeyConditionExpression": "deviceId = :d",
            "FilterExpression": "#status IN (" + ", ".join(f":w{i}" for i in range(len(words))) + ")",
            "ExpressionAttributeNames": {"#status": f["state"]},
            "ExpressionAttributeValues": {
                ":d": s(device_id),
                **{f":w{i}": s(w) for i, w in enumerate(words)},
            },
            "ConsistentRead": True,
            "ScanIndexForward": True,
        }
        found: list[Command] = []
        ddb = client("dynamodb")
        while True:
            with translated_errors():
                page = ddb.query(**params)
            found.extend(self._command(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
