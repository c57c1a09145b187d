"""Device profiles and provisioning state in the registry table (``DEVICES_TABLE``).

Items, all keyed ``pk``/``sk``:
- ``PROFILE#<id>`` / ``META``: the profile (``kind=profile`` lists profiles by name in the sparse
  ``ByKindAndName`` index);
- ``PROFILENAME#<name>`` / ``META``: claims the name, so two profiles never share one;
- ``PROVISIONKEY#<key>`` / ``META``: a copy of what provisioning needs (profile id and name, strategy,
  secret digest, version), so a provision request costs one GetItem; written with the profile in
  the same transactions;
- ``DEVICE#<id>`` / ``PROVISION``: the device has been provisioned (ThingsBoard's server attribute
  ``provisionState=provisioned``);
- ``DEVICE#<id>`` / ``MQTT``: the device's MQTT basic credentials (client id, user name, scrypt hash of
  the password), for the MQTT dialects;
- ``MQTTCLIENT#<clientId>`` and ``MQTTUSER#<userName>`` / ``META``: make client ids and user names
  unique; taken by a reservation first, then bound to the device.
No item but the profile carries ``kind``, and none carries ``profileId``, so none of them ever shows
up in the device listings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleetgate.data.aws import PageKey, client, create_all, n, query_page, s, translated_errors
from fleetgate.data.devices import BY_KIND_KEY
from fleetgate.domain.profiles import DeviceProfile, MqttBasic, Strategy
from fleetgate.errors import Conflict, NotFound

META = "META"
INDEX = "ByKindAndName"
PROVISIONED = "PROVISION"
MQTT = "MQTT"
STALE_RESERVATION_MS = 5 * 60 * 1000  # a reservation never bound by then was left by a failed request
_ABSENT = "attribute_not_exists(pk)"


def _profile_key(profile_id: str) -> dict[str, Any]:
    return {"pk": s(f"PROFILE#{profile_id}"), "sk": s(META)}


def _name_key(name: str) -> dict[str, Any]:
    return {"pk": s(f"PROFILENAME#{name}"), "sk": s(META)}


def _provision_key(key: str) -> dict[str, Any]:
    return {"pk": s(f"PROVISIONKEY#{key}"), "sk": s(META)}


def _device_item_key(device_id: str, sk: str) -> dict[str, Any]:
    return {"pk": s(f"DEVICE#{device_id}"), "sk": s(sk)}


def _mqtt_name_keys(credentials: MqttBasic) -> list[dict[str, Any]]:
    keys = []
    if credentials.client_id:
        keys.append({"pk": s(f"MQTTCLIENT#{credentials.client_id}"), "sk": s(META)})
    if credentials.user_name:
        keys.append({"pk": s(f"MQTTUSER#{credentials.user_name}"), "sk": s(META)})
    return keys


def _attributes(profile: DeviceProfile) -> dict[str, Any]:
    return {
        "id": s(profile.id),
        "name": s(profile.name),
        "strategy": s(profile.strategy.value),
        "provisionKey": s(profile.provision_key),
        "secretHash": s(profile.secret_hash),
        "createdAt": n(profile.created_at),
        "updatedAt": n(profile.updated_at),
        "version": n(profile.version),
    }


def _profile_item(profile: DeviceProfile) -> dict[str, Any]:
    return {**_profile_key(profile.id), "kind": s("profile"), **_attributes(profile)}


def _key_item(profile: DeviceProfile) -> dict[str, Any]:
    return {**_provision_key(profile.provision_key), **_attributes(profile)}


def _profile_from(item: dict[str, Any]) -> DeviceProfile:
    return DeviceProfile(
        id=item["id"]["S"],
        name=item["name"]["S"],
        strategy=Strategy(item["strategy"]["S"]),
        provision_key=item["provisionKey"]["S"],
        secret_hash=item["secretHash"]["S"],
        created_at=int(item["createdAt"]["N"]),
        updated_at=int(item["updatedAt"]["N"]),
        version=int(item["version"]["N"]),
    )


class ProfileRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def create(self, profile: DeviceProfile) -> None:
        """The profile, its name and its provision key at once; a taken name or key is a Conflict."""
        create_all(
            self.table,
            [_profile_item(profile), {**_name_key(profile.name), "id": s(profile.id)}, _key_item(profile)],
            {
                1: f"A device profile named '{profile.name}' already exists",
                2: "That provisionDeviceKey is already used by another device profile",
            },
        )

    def get(self, profile_id: str) -> DeviceProfile:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=_profile_key(profile_id), ConsistentRead=True)
                .get("Item")
            )
        if not item:
            raise NotFound(f"Device profile '{profile_id}' not found")
        return _profile_from(item)

    def by_provision_key(self, key: str) -> DeviceProfile | None:
        with translated_errors():
            item = client("dynamodb").get_item(TableName=self.table, Key=_provision_key(key)).get("Item")
        return _profile_from(item) if item else None

    def list(self, limit: int, next_token: str | None) -> tuple[list[DeviceProfile], str | None]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX,
            "KeyConditionExpression": "kind = :kind",
            "ExpressionAttributeValues": {":kind": s("profile")},
            "Limit": limit,
        }
        items, cursor = query_page(params, next_token, PageKey(BY_KIND_KEY, ("kind", "profile")))
        return [_profile_from(i) for i in items], cursor

    def replace(self, current: DeviceProfile, updated: DeviceProfile) -> None:
        """Store ``updated`` if the profile is still at ``current``'s version (else a Conflict)."""
        with translated_errors(conflict=f"Device profile '{current.id}' was changed concurrently; retry"):
            client("dynamodb").transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _profile_item(updated),
                            "ConditionExpression": "version = :v",
                            "ExpressionAttributeValues": {":v": n(current.version)},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _key_item(updated),
                            "ConditionExpression": "version = :v",
                            "ExpressionAttributeValues": {":v": n(current.version)},
                        }
                    },
                ]
            )

    def delete(self, profile: DeviceProfile) -> None:
        with translated_errors(conflict=f"Device profile '{profile.id}' was changed concurrently; retry"):
            client("dynamodb").transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": _profile_key(profile.id),
                            "ConditionExpression": "version = :v",
                            "ExpressionAttributeValues": {":v": n(profile.version)},
                        }
                    },
                    {"Delete": {"TableName": self.table, "Key": _name_key(profile.name)}},
                    {"Delete": {"TableName": self.table, "Key": _provision_key(profile.provision_key)}},
                ]
            )


@dataclass(frozen=True)
class MqttReservation:
    """Client id and user name taken for a device that is being created."""

    credentials: MqttBasic
    reservation_id: str


class ProvisioningRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def mark_provisioned(self, device_id: str, now_ms: int) -> None:
        """Record that the device has been provisioned; a Conflict if it already was."""
        with translated_errors(conflict="The device has already been provisioned"):
            client("dynamodb").put_item(
                TableName=self.table,
                Item={**_device_item_key(device_id, PROVISIONED), "provisionedAt": n(now_ms)},
                ConditionExpression=_ABSENT,
            )

    def unmark_provisioned(self, device_id: str) -> None:
        with translated_errors():
            client("dynamodb").delete_item(TableName=self.table, Key=_device_item_key(device_id, PROVISIONED))

    def is_provisioned(self, device_id: str) -> bool:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(
                    TableName=self.table, Key=_device_item_key(device_id, PROVISIONED), ConsistentRead=True
                )
                .get("Item")
            )
        return bool(item)

    # ------------------------------------------------------------------ MQTT basic credentials
    def reserve_mqtt(self, credentials: MqttBasic, reservation_id: str, now_ms: int) -> MqttReservation:
        """Take the client id and user name for a device about to be created; a Conflict if another
        device holds either. Names held by a deleted device, or by a reservation a failed request
        left behind, are taken over."""
        keys = _mqtt_name_keys(credentials)
        for attempt in range(2):
            try:
                with translated_errors(conflict="The MQTT client id or user name is already in use"):
                    client("dynamodb").transact_write_items(
                        TransactItems=[
                            {
                                "Put": {
                                    "TableName": self.table,
                                    "Item": {
                                        **key,
                                        "reservation": s(reservation_id),
                                        "reservedAt": n(now_ms),
                                    },
                                    "ConditionExpression": _ABSENT,
                                }
                            }
                            for key in keys
                        ]
                    )
                return MqttReservation(credentials, reservation_id)
            except Conflict:
                if attempt or not self._clear_stale(keys, now_ms):
                    raise
        raise AssertionError("unreachable")

    def _clear_stale(self, keys: list[dict[str, Any]], now_ms: int) -> bool:
        """Remove the holders of ``keys`` that hold nothing any more; True if all are now free."""
        ddb = client("dynamodb")
        for key in keys:
            with translated_errors():
                item = ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            if not item:
                continue
            if "deviceId" in item:
                with translated_errors():
                    holder = ddb.get_item(
                        TableName=self.table, Key=_device_item_key(item["deviceId"]["S"], META)
                    ).get("Item")
                if holder:
                    return False
            elif now_ms - int(item["reservedAt"]["N"]) < STALE_RESERVATION_MS:
                return False
            try:
                with translated_errors():
                    ddb.delete_item(
                        TableName=self.table,
                        Key=key,
                        ConditionExpression="reservation = :r",
                        ExpressionAttributeValues={":r": item["reservation"]},
                    )
            except Conflict:
                return False
        return True

    def release_mqtt(self, reservation: MqttReservation) -> None:
        """Give the names back (a request that reserved them failed)."""
        for key in _mqtt_name_keys(reservation.credentials):
            try:
                with translated_errors():
                    client("dynamodb").delete_item(
                        TableName=self.table,
                        Key=key,
                        ConditionExpression="reservation = :r",
                        ExpressionAttributeValues={":r": s(reservation.reservation_id)},
                    )
            except Conflict:
                continue  # no longer ours: nothing to give back

    def bind_mqtt(
        self, device_id: str, reservation: MqttReservation, password_hash: str | None, now_ms: int
    ) -> None:
        """Store the device's MQTT credentials, bind the reserved names to it and mark it provisioned,
        in one transaction."""
        credentials = reservation.credentials
        mqtt_item: dict[str, Any] = {
            **_device_item_key(device_id, MQTT),
            "clientId": s(credentials.client_id),
            "userName": s(credentials.user_name),
            "createdAt": n(now_ms),
        }
        if password_hash:
            mqtt_item["passwordHash"] = s(password_hash)
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": key,
                    "UpdateExpression": "SET deviceId = :d",
                    "ConditionExpression": "reservation = :r",
                    "ExpressionAttributeValues": {":d": s(device_id), ":r": s(reservation.reservation_id)},
                }
            }
            for key in _mqtt_name_keys(credentials)
        ]
        items.append({"Put": {"TableName": self.table, "Item": mqtt_item, "ConditionExpression": _ABSENT}})
        items.append(
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {**_device_item_key(device_id, PROVISIONED), "provisionedAt": n(now_ms)},
                    "ConditionExpression": _ABSENT,
                }
            }
        )
        with translated_errors(conflict="The MQTT credentials were taken concurrently"):
            client("dynamodb").transact_write_items(TransactItems=items)
