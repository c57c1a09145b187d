"""Thing groups in the registry table (``DEVICES_TABLE``).

- ``GROUP#<name>``/``META``: the group (``kind=thinggroup`` lists groups by name in ``ByKindAndName``);
- ``GROUP#<name>``/``THING#<thingName>``: a member (one Query lists a group's members by name);
- ``DEVICE#<deviceId>``/``GROUP#<name>``: the same membership seen from the device, so a device's groups
  are one Query and deleting a device finds its memberships.
A membership's two items are written and deleted together in one transaction, conditional on the group.
"""

from __future__ import annotations

from typing import Any

from fleetgate.data.aws import PageKey, cancellation_codes, client, n, query_page, s, translated_errors
from fleetgate.data.devices import kind_page
from fleetgate.domain.devices import Thing
from fleetgate.domain.groups import ThingGroup
from fleetgate.errors import Conflict, NotFound

META = "META"
KIND = "thinggroup"


def _group_key(name: str) -> dict[str, Any]:
    return {"pk": s(f"GROUP#{name}"), "sk": s(META)}


def _member_key(name: str, thing_name: str) -> dict[str, Any]:
    return {"pk": s(f"GROUP#{name}"), "sk": s(f"THING#{thing_name}")}


def _reverse_key(device_id: str, name: str) -> dict[str, Any]:
    return {"pk": s(f"DEVICE#{device_id}"), "sk": s(f"GROUP#{name}")}


def _group_from(item: dict[str, Any]) -> ThingGroup:
    return ThingGroup(
        item["name"]["S"], item.get("description", {}).get("S", ""), int(item["createdAt"]["N"])
    )


class GroupRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def create(self, group: ThingGroup) -> None:
        item = {
            **_group_key(group.name),
            "kind": s(KIND),
            "name": s(group.name),
            "description": s(group.description),
            "createdAt": n(group.created_at),
        }
        with translated_errors(conflict=f"A thing group named '{group.name}' already exists"):
            client("dynamodb").put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )

    def get(self, name: str) -> ThingGroup:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=_group_key(name), ConsistentRead=True)
                .get("Item")
            )
        if not item:
            raise NotFound(f"Thing group '{name}' not found")
        return _group_from(item)

    def list_page(self, limit: int, next_token: str | None) -> tuple[list[ThingGroup], str | None]:
        items, cursor = kind_page(self.table, KIND, limit, next_token)
        return [_group_from(i) for i in items], cursor

    def members_page(
        self, name: str, limit: int | None, next_token: str | None
    ) -> tuple[list[Thing], str | None]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :thing)",
            "ExpressionAttributeValues": {":pk": s(f"GROUP#{name}"), ":thing": s("THING#")},
            "ConsistentRead": True,
        }
        if limit is not None:
            params["Limit"] = limit
        key = PageKey({"pk": "S", "sk": "S"}, ("pk", f"GROUP#{name}"), ("sk", "THING#"))
        items, cursor = query_page(params, next_token, key)
        return [Thing(i["deviceId"]["S"], i["thingName"]["S"]) for i in items], cursor

    def members(self, name: str) -> list[Thing]:
        found: list[Thing] = []
        cursor: str | None = None
        while True:
            page, cursor = self.members_page(name, None, cursor)
            found.extend(page)
            if not cursor:
                return found

    def groups_of(self, device_id: str) -> list[str]:
        with translated_errors():
            pages = (
                client("dynamodb")
                .get_paginator("query")
                .paginate(
                    TableName=self.table,
                    KeyConditionExpression="pk = :pk AND begins_with(sk, :group)",
                    ExpressionAttributeValues={":pk": s(f"DEVICE#{device_id}"), ":group": s("GROUP#")},
                    ProjectionExpression="sk",
                )
            )
            return [
                item["sk"]["S"].removeprefix("GROUP#") for page in pages for item in page.get("Items", [])
            ]

    def add_member(self, name: str, thing: Thing, now_ms: int) -> bool:
        """Make ``thing`` a member; False when it already was one. NotFound when the group is gone."""
        try:
            with translated_errors():
                client("dynamodb").transact_write_items(
                    TransactItems=[
                        {
                            "ConditionCheck": {
                                "TableName": self.table,
                                "Key": _group_key(name),
                                "ConditionExpression": "attribute_exists(pk)",
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": _member_key(name, thing.name)
                                | {"deviceId": s(thing.id), "thingName": s(thing.name), "addedAt": n(now_ms)},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": _reverse_key(thing.id, name) | {"groupName": s(name)},
                            }
                        },
                    ]
                )
        except Conflict as exc:
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                raise NotFound(f"Thing group '{name}' not found") from exc
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                return False
            raise
        return True

    def remove_member(self, name: str, thing: Thing) -> None:
        try:
            with translated_errors():
                client("dynamodb").transact_write_items(
                    TransactItems=[
                        {
                            "Delete": {
                                "TableName": self.table,
                                "Key": _member_key(name, thing.name),
                                "ConditionExpression": "attribute_exists(pk)",
                            }
                        },
                        {"Delete": {"TableName": self.table, "Key": _reverse_key(thing.id, name)}},
                    ]
                )
        except Conflict as exc:
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                raise NotFound(f"'{thing.name}' is not a member of thing group '{name}'") from exc
            raise

    def delete(self, name: str) -> None:
        """Delete the group and every membership (both sides)."""
        members = self.members(name)
        ddb = client("dynamodb")
        with translated_errors():
            for thing in members:
                ddb.delete_item(TableName=self.table, Key=_reverse_key(thing.id, name))
                ddb.delete_item(TableName=self.table, Key=_member_key(name, thing.name))
            ddb.delete_item(TableName=self.table, Key=_group_key(name))

    def forget_device(self, device_id: str, thing_name: str) -> None:
        """Remove a deleted device from every group it was in."""
        ddb = client("dynamodb")
        for name in self.groups_of(device_id):
            with translated_errors():
                ddb.delete_item(TableName=self.table, Key=_member_key(name, thing_name))
                ddb.delete_item(TableName=self.table, Key=_reverse_key(device_id, name))
