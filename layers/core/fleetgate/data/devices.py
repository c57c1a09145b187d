"""The device registry in DynamoDB (``DEVICES_TABLE``).

One table, three item kinds, all keyed ``pk``/``sk``:
- ``DEVICE#<id>``: the device (``kind=device`` puts it in the sparse ``ByKindAndName`` index, which
  lists devices ordered by name);
- ``NAME#<name>``: claims the name, so two devices can never share one;
- ``TOKEN#<sha256>``: resolves an access token digest to the device in one GetItem.
They are written and deleted together in transactions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleetgate.data.aws import (
    PageKey,
    client,
    create_all,
    n,
    query_page,
    s,
    translated_errors,
)
from fleetgate.domain.devices import Device, DeviceIdentity, Thing
from fleetgate.errors import NotFound

META = "META"
INDEX = "ByKindAndName"
PROFILE_INDEX = "ByProfileAndName"
BY_KIND_KEY = {"pk": "S", "sk": "S", "kind": "S", "name": "S"}  # a ByKindAndName page's last key


def _device_key(device_id: str) -> dict[str, Any]:
    return {"pk": s(f"DEVICE#{device_id}"), "sk": s(META)}


def _name_key(name: str) -> dict[str, Any]:
    return {"pk": s(f"NAME#{name}"), "sk": s(META)}


def _token_key(token_hash: str) -> dict[str, Any]:
    return {"pk": s(f"TOKEN#{token_hash}"), "sk": s(META)}


def _device_item(device: Device) -> dict[str, Any]:
    item = {
        **_device_key(device.id),
        "kind": s("device"),
        "id": s(device.id),
        "name": s(device.name),
        "type": s(device.type),
        "createdAt": n(device.created_at),
        "tokenHash": s(device.token_hash),
    }
    if device.label is not None:
        item["label"] = s(device.label)
    if device.queues:
        item["queues"] = _queues(device.queues)
    if device.profile_id:
        item["profileId"] = s(device.profile_id)
    if device.gateway:
        item["gateway"] = {"BOOL": True}
    return item


def _token_item(device: Device) -> dict[str, Any]:
    item = {
        **_token_key(device.token_hash),
        "deviceId": s(device.id),
        "name": s(device.name),
        "type": s(device.type),
    }
    if device.queues:
        item["queues"] = _queues(device.queues)
    if device.profile_id:  # not "profileId": token items must stay out of the ByProfileAndName index
        item["deviceProfileId"] = s(device.profile_id)
    return item


def _queues(queues: dict[str, str]) -> dict[str, Any]:
    return {"M": {channel: s(url) for channel, url in queues.items()}}


def _queues_from(item: dict[str, Any]) -> dict[str, str]:
    return {channel: v["S"] for channel, v in item.get("queues", {}).get("M", {}).items()}


def _device_from(item: dict[str, Any]) -> Device:
    return Device(
        id=item["id"]["S"],
        name=item["name"]["S"],
        type=item["type"]["S"],
        label=item["label"]["S"] if "label" in item else None,
        created_at=int(item["createdAt"]["N"]),
        token_hash=item["tokenHash"]["S"],
        queues=_queues_from(item),
        profile_id=item["profileId"]["S"] if "profileId" in item else None,
        gateway=item.get("gateway", {}).get("BOOL", False),
    )


def kind_page(
    table: str, kind: str, limit: int, next_token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the registry's items of one kind (devices, API keys, thing groups) in name order,
    from the sparse ``ByKindAndName`` index."""
    params: dict[str, Any] = {
        "TableName": table,
        "IndexName": INDEX,
        "KeyConditionExpression": "kind = :kind",
        "ExpressionAttributeValues": {":kind": s(kind)},
        "Limit": limit,
    }
    return query_page(params, next_token, PageKey(BY_KIND_KEY, ("kind", kind)))


class DeviceRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def create(
        self, device: Device, extra: Sequence[dict[str, Any]] = (), taken: Mapping[int, str] | None = None
    ) -> None:
        """The device, its name claim and its token at once; a taken name is a Conflict. ``extra`` items
        (a dialect's record and claims) are written in the same transaction, each only where its key is
        free; ``taken`` says what a held one means, by its index in ``extra``."""
        create_all(
            self.table,
            [
                _name_key(device.name) | {"deviceId": s(device.id)},
                _device_item(device),
                _token_item(device),
                *extra,
            ],
            {0: f"A device named '{device.name}' already exists"}
            | {3 + index: message for index, message in (taken or {}).items()},
        )

    def get(self, device_id: str) -> Device:
        with translated_errors():
            item = client("dynamodb").get_item(TableName=self.table, Key=_device_key(device_id)).get("Item")
        if not item:
            raise NotFound(f"Device '{device_id}' not found")
        return _device_from(item)

    def id_for_name(self, name: str) -> str | None:
        """The id of the device named ``name`` (its name claim: one consistent GetItem)."""
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=_name_key(name), ConsistentRead=True)
                .get("Item")
            )
        return item["deviceId"]["S"] if item else None

    def thing_named(self, name: str) -> Thing:
        """The device named ``name``; ``NotFound`` when there is none."""
        device_id = self.id_for_name(name)
        if device_id is None:
            raise NotFound(f"Thing '{name}' not found")
        return Thing(device_id, name)

    def identity_for_token(self, token_hash: str) -> DeviceIdentity | None:
        with translated_errors():
            item = client("dynamodb").get_item(TableName=self.table, Key=_token_key(token_hash)).get("Item")
        if not item:
            return None
        return DeviceIdentity(
            item["deviceId"]["S"],
            item["name"]["S"],
            item["type"]["S"],
            _queues_from(item),
            item["deviceProfileId"]["S"] if "deviceProfileId" in item else None,
        )

    def list_page(self, limit: int, next_token: str | None) -> tuple[list[Device], str | None]:
        items, cursor = kind_page(self.table, "device", limit, next_token)
        return [_device_from(i) for i in items], cursor

    def list_by_profile(
        self, profile_id: str, limit: int, next_token: str | None
    ) -> tuple[list[Device], str | None]:
        """Devices of a profile, ordered by name (sparse ``ByProfileAndName`` index)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": PROFILE_INDEX,
            "KeyConditionExpression": "profileId = :p",
            "ExpressionAttributeValues": {":p": s(profile_id)},
            "Limit": limit,
        }
        key = PageKey({"pk": "S", "sk": "S", "profileId": "S", "name": "S"}, ("profileId", profile_id))
        items, cursor = query_page(params, next_token, key)
        return [_device_from(i) for i in items], cursor

    def delete(self, device: Device) -> None:
        """Remove the device, its name and its token at once (the token stops working immediately)."""
        with translated_errors(conflict=f"Device '{device.id}' was changed concurrently; retry"):
            client("dynamodb").transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": _device_key(device.id),
                            "ConditionExpression": "tokenHash = :h",
                            "ExpressionAttributeValues": {":h": s(device.token_hash)},
                        }
                    },
                    {"Delete": {"TableName": self.table, "Key": _name_key(device.name)}},
                    {"Delete": {"TableName": self.table, "Key": _token_key(device.token_hash)}},
                ]
            )

    def delete_satellites(self, device_id: str) -> None:
        """What other features keep under the device's key (claim, owner, provisioning, MQTT
        credentials): removed after the device itself is gone."""
        ddb = client("dynamodb")
        with translated_errors():
            items = ddb.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": s(f"DEVICE#{device_id}")},
                ProjectionExpression="pk, sk",
            ).get("Items", [])
            for key in items:
                ddb.delete_item(TableName=self.table, Key=key)

    def replace_token(self, device: Device, new_hash: str) -> Device:
        """Swap the device's token digest; the old token stops working in the same transaction."""
        updated = device.with_token_hash(new_hash)
        with translated_errors(conflict=f"Device '{device.id}' was changed concurrently; retry"):
            client("dynamodb").transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _device_key(device.id),
                            "UpdateExpression": "SET tokenHash = :new",
                            "ConditionExpression": "tokenHash = :old",
                            "ExpressionAttributeValues": {":new": s(new_hash), ":old": s(device.token_hash)},
                        }
                    },
                    {"Delete": {"TableName": self.table, "Key": _token_key(device.token_hash)}},
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _token_item(updated),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        return updated
