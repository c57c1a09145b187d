"""Claiming windows and owners in the registry table (``DEVICES_TABLE``), next to the device:
- ``DEVICE#<id>`` / ``CLAIM``: the open claiming window (window id, scrypt hash of the secret, expiry);
- ``DEVICE#<id>`` / ``OWNER``: the operator who claimed the device.
Every write is conditional, so two operators claiming at once produce exactly one owner, and a
window is never opened for a device that has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleetgate.data.aws import client, n, s, translated_errors
from fleetgate.domain.claims import ClaimWindow, Ownership
from fleetgate.errors import Conflict

CLAIM = "CLAIM"
OWNER = "OWNER"
META = "META"


def _key(device_id: str, sk: str) -> dict[str, Any]:
    return {"pk": s(f"DEVICE#{device_id}"), "sk": s(sk)}


def _window_item(window: ClaimWindow) -> dict[str, Any]:
    return {
        **_key(window.device_id, CLAIM),
        "windowId": s(window.window_id),
        "secretHash": s(window.secret_hash),
        "createdAt": n(window.created_at),
        "expiresAt": n(window.expires_at),
    }


def _window_from(device_id: str, item: dict[str, Any]) -> ClaimWindow:
    return ClaimWindow(
        device_id=device_id,
        window_id=item["windowId"]["S"],
        secret_hash=item["secretHash"]["S"],
        created_at=int(item["createdAt"]["N"]),
        expires_at=int(item["expiresAt"]["N"]),
    )


def _ownership_item(ownership: Ownership) -> dict[str, Any]:
    item = {
        **_key(ownership.device_id, OWNER),
        "owner": s(ownership.owner),
        "claimedAt": n(ownership.claimed_at),
    }
    if ownership.owner_name:
        item["ownerName"] = s(ownership.owner_name)
    return item


def _ownership_from(device_id: str, item: dict[str, Any]) -> Ownership:
    return Ownership(
        device_id=device_id,
        owner=item["owner"]["S"],
        owner_name=item["ownerName"]["S"] if "ownerName" in item else None,
        claimed_at=int(item["claimedAt"]["N"]),
    )


@dataclass(frozen=True)
class ClaimState:
    """What the registry holds about a device's claiming, read at once."""

    exists: bool  # the device itself
    window: ClaimWindow | None
    ownership: Ownership | None


class ClaimRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def open_window(self, window: ClaimWindow) -> bool:
        """Record the window (replacing an earlier one) unless the device has an owner: False then."""
        try:
            with translated_errors():
                client("dynamodb").transact_write_items(
                    TransactItems=[
                        {
                            "ConditionCheck": {
                                "TableName": self.table,
                                "Key": _key(window.device_id, OWNER),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {"Put": {"TableName": self.table, "Item": _window_item(window)}},
                    ]
                )
        except Conflict:
            return False
        return True

    def state(self, device_id: str) -> ClaimState:
        """The device's record, window and owner: one strongly consistent query of its items."""
        with translated_errors():
            page = client("dynamodb").query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": s(f"DEVICE#{device_id}")},
                ConsistentRead=True,
            )
        items = {item["sk"]["S"]: item for item in page.get("Items", [])}
        return ClaimState(
            exists=META in items,
            window=_window_from(device_id, items[CLAIM]) if CLAIM in items else None,
            ownership=_ownership_from(device_id, items[OWNER]) if OWNER in items else None,
        )

    def owner(self, device_id: str) -> Ownership | None:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=_key(device_id, OWNER), ConsistentRead=True)
                .get("Item")
            )
        return _ownership_from(device_id, item) if item else None

    def claim(self, window: ClaimWindow, ownership: Ownership) -> None:
        """Make the owner and use the window up, at once; a Conflict if the device got an owner or the
        window changed meanwhile."""
        with translated_errors(conflict="The device was claimed concurrently"):
            client("dynamodb").transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _ownership_item(ownership),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": _key(window.device_id, CLAIM),
                            "ConditionExpression": "windowId = :w",
                            "ExpressionAttributeValues": {":w": s(window.window_id)},
                        }
                    },
                ]
            )

    def drop_window(self, window: ClaimWindow) -> None:
        """Use the window up without an owner (wrong secret, expired); a newer window is left alone."""
        try:
            with translated_errors():
                client("dynamodb").delete_item(
                    TableName=self.table,
                    Key=_key(window.device_id, CLAIM),
                    ConditionExpression="windowId = :w",
                    ExpressionAttributeValues={":w": s(window.window_id)},
                )
        except Conflict:
            return  # already gone or replaced by a new window: nothing to drop

    def release(self, device_id: str, owner: str) -> None:
        """Remove the owner if it is still ``owner``; a Conflict otherwise."""
        with translated_errors(conflict="The device's owner changed concurrently"):
            client("dynamodb").delete_item(
                TableName=self.table,
                Key=_key(device_id, OWNER),
                ConditionExpression="#o = :o",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":o": s(owner)},
            )
