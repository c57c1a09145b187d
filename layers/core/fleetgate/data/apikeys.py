"""Deployment API keys in the registry table (``DEVICES_TABLE``), item ``APIKEY#<id>``/``META``.

``kind=apikey`` puts keys in the sparse ``ByKindAndName`` index, which lists them by name. A revoked key
keeps its item (for the audit trail: who had access, until when) but loses its secret digest.
"""

from __future__ import annotations

from typing import Any

from fleetgate.data.aws import client, n, s, translated_errors
from fleetgate.data.devices import kind_page
from fleetgate.domain.apikeys import ApiKey, Permission
from fleetgate.errors import Conflict, NotFound

META = "META"
KIND = "apikey"


def _key(key_id: str) -> dict[str, Any]:
    return {"pk": s(f"APIKEY#{key_id}"), "sk": s(META)}


def _item(key: ApiKey) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_key(key.id),
        "kind": s(KIND),
        "id": s(key.id),
        "name": s(key.name),
        "secretHash": s(key.secret_hash),
        "permissions": {"L": [{"M": {"method": s(p.method), "path": s(p.path)}} for p in key.permissions]},
        "createdAt": n(key.created_at),
    }
    if key.thing_names is not None:
        item["thingNames"] = {"SS": sorted(key.thing_names)}
    return item


def _from(item: dict[str, Any]) -> ApiKey:
    return ApiKey(
        id=item["id"]["S"],
        name=item["name"]["S"],
        secret_hash=item.get("secretHash", {}).get("S", ""),
        permissions=tuple(
            Permission(p["M"]["method"]["S"], p["M"]["path"]["S"]) for p in item["permissions"]["L"]
        ),
        thing_names=frozenset(item["thingNames"]["SS"]) if "thingNames" in item else None,
        created_at=int(item["createdAt"]["N"]),
        revoked_at=int(item["revokedAt"]["N"]) if "revokedAt" in item else None,
    )


class ApiKeyRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def create(self, key: ApiKey) -> None:
        with translated_errors(conflict="An API key with this id already exists"):
            client("dynamodb").put_item(
                TableName=self.table, Item=_item(key), ConditionExpression="attribute_not_exists(pk)"
            )

    def find(self, key_id: str) -> ApiKey | None:
        with translated_errors():
            item = client("dynamodb").get_item(TableName=self.table, Key=_key(key_id)).get("Item")
        return _from(item) if item else None

    def get(self, key_id: str) -> ApiKey:
        key = self.find(key_id)
        if key is None:
            raise NotFound(f"API key '{key_id}' not found")
        return key

    def list_page(self, limit: int, next_token: str | None) -> tuple[list[ApiKey], str | None]:
        items, cursor = kind_page(self.table, KIND, limit, next_token)
        return [_from(i) for i in items], cursor

    def revoke(self, key_id: str, now_ms: int) -> ApiKey:
        """Mark the key revoked and forget its secret digest; revoking twice keeps the first time."""
        try:
            with translated_errors():
                item = client("dynamodb").update_item(
                    TableName=self.table,
                    Key=_key(key_id),
                    UpdateExpression="SET revokedAt = if_not_exists(revokedAt, :t) REMOVE secretHash",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={":t": n(now_ms)},
                    ReturnValues="ALL_NEW",
                )["Attributes"]
        except Conflict as exc:
            raise NotFound(f"API key '{key_id}' not found") from exc
        return _from(item)
