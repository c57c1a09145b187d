"""What Xyte registration, device info, telemetry, space, cloud settings and incidents keep in the
registry table (``DEVICES_TABLE``), beside the device's ``XYTE`` record (``fleetgate.data.xyte``).

Items under ``pk = DEVICE#<id>`` (deleted with the device's satellites):
- ``XYTESTATE``: ``lastSeen`` (epoch ms), the reported ``status`` and ``message``, the versions the
  device says it applied (``appliedConfigVersion``, ``appliedSpaceVersion``);
- ``XYTESPACE``: the operator's space info (``space``, compact JSON);
- ``XYTESETTINGS``: cloud settings (``settings``, a map of property → value);
- ``INCIDENT#OPEN#<id>`` / ``INCIDENT#CLOSED#<id>``: incidents; closing one moves it in a transaction,
  so open incidents are one Query (ids are time-ordered: a Query lists them oldest first).
Links written at registration (``data.xyte.link_items``) list a model's devices and a parent's children.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from fleetgate.data.aws import PageKey, cancellation_codes, client, n, query_page, s, translated_errors
from fleetgate.data.xyte import CHILD, CHILD_SN, child_keys, record_from
from fleetgate.domain.xyte import XyteDevice
from fleetgate.domain.xyte_registry import CLOSED, OPEN, Incident, SpaceInfo
from fleetgate.errors import Conflict, NotFound

STATE, SPACE, SETTINGS = "XYTESTATE", "XYTESPACE", "XYTESETTINGS"
INCIDENT = "INCIDENT#"
PAGE_KEY_TYPES = {"pk": "S", "sk": "S"}


class CallsChanged(Conflict):
    """Another Update Device call was recorded since the record was read: read it again."""


def _key(device_id: str, sk: str) -> dict[str, Any]:
    return {"pk": s(f"DEVICE#{device_id}"), "sk": s(sk)}


@dataclass(frozen=True)
class XyteState:
    """What the device last reported (None/0: never)."""

    last_seen: int | None = None
    status: str | None = None
    message: str | None = None
    applied_config_version: int | None = None
    applied_space_version: int | None = None


def _state_from(item: dict[str, Any]) -> XyteState:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def number(name: str) -> int | None:
        return int(item[name]["N"]) if name in item else None

    return XyteState(
        last_seen=number("lastSeen"),
        status=text("status"),
        message=text("message"),
        applied_config_version=number("appliedConfigVersion"),
        applied_space_version=number("appliedSpaceVersion"),
    )


RECORD_ATTRIBUTES = {
    "firmware_version": "firmwareVersion",
    "name": "xyteName",
    "sub_model": "subModel",
    "details": "details",
    "parent_id": "parentId",
    "host_address": "hostAddress",
}


def _typed(attribute: str, value: Any) -> dict[str, Any]:
    if attribute == "details":
        return s(json.dumps(value, separators=(",", ":")))
    return s(value)


class XyteRegistryRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    # ------------------------------------------------------------------ state
    def seen(self, device_id: str, now_ms: int) -> XyteState:
        """Record that the device reported now; returns the state as it was before."""
        with translated_errors():
            old = (
                client("dynamodb")
                .update_item(
                    TableName=self.table,
                    Key=_key(device_id, STATE),
                    UpdateExpression="SET lastSeen = :now",
                    ExpressionAttributeValues={":now": n(now_ms)},
                    ReturnValues="ALL_OLD",
                )
                .get("Attributes")
            )
        return _state_from(old or {})

    def set_status(self, device_id: str, status: str | None, message: str | None) -> None:
        sets, removes, values = [], [], {}
        for name, value in (("status", status), ("message", message)):
            if value is None:
                removes.append(name)
            else:
                sets.append(f"#{name} = :{name}")
                values[f":{name}"] = s(value)
        expression = ("SET " + ", ".join(sets) if sets else "") + (
            " REMOVE " + ", ".join(f"#{r}" for r in removes) if removes else ""
        )
        params: dict[str, Any] = {
            "TableName": self.table,
            "Key": _key(device_id, STATE),
            "UpdateExpression": expression.strip(),
            "ExpressionAttributeNames": {"#status": "status", "#message": "message"},
        }
        if values:
            params["ExpressionAttributeValues"] = values
        with translated_errors():
            client("dynamodb").update_item(**params)

    def state(self, device_id: str) -> XyteState:
        with translated_errors():
            item = client("dynamodb").get_item(TableName=self.table, Key=_key(device_id, STATE)).get("Item")
        return _state_from(item or {})

    # ------------------------------------------------------------------ Update Device
    def save_update(
        self,
        current: XyteDevice,
        changes: dict[str, Any],
        applied: dict[str, int],
        calls: tuple[int, ...],
    ) -> XyteDevice:
        """Write an accepted Update Device call: the changed fields, the call in ``updateCalls`` and, when
        a field changed, ``infoVersion`` + 1; unless another call was recorded since ``current`` was
        read (``Conflict``: read again). A new ``parent_id`` moves the child's links in the same
        transaction (``Conflict`` with a message when the new parent has a child of this serial number).
        """
        names: dict[str, str] = {"#calls": "updateCalls"}
        values: dict[str, Any] = {
            ":calls": {"L": [n(t) for t in calls]},
            ":old": {"L": [n(t) for t in current.update_calls]},
        }
        sets = ["#calls = :calls"]
        for i, (field, value) in enumerate(changes.items()):
            names[f"#f{i}"] = RECORD_ATTRIBUTES[field]
            values[f":f{i}"] = _typed(field, value)
            sets.append(f"#f{i} = :f{i}")
        expression = "SET " + ", ".join(sets)
        if changes:
            expression += " ADD infoVersion :one"
            values[":one"] = n(1)
        update = {
            "TableName": self.table,
            "Key": {"pk": s(f"DEVICE#{current.device_id}"), "sk": s("XYTE")},
            "UpdateExpression": expression,
            "ConditionExpression": "updateCalls = :old",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        ddb = client("dynamodb")
        if "parent_id" not in changes:
            try:
                with translated_errors():
                    item = ddb.update_item(**update, ReturnValues="ALL_NEW")["Attributes"]
            except Conflict as exc:
                raise CallsChanged("Another Update Device call was recorded meanwhile") from exc
            new = record_from(item)
        else:
            items: list[dict[str, Any]] = [{"Update": update}]
            if current.parent_id is not None:
                for key in child_keys(current.parent_id, current.device_id, current.identity.sn):
                    items.append({"Delete": {"TableName": self.table, "Key": key}})
            for key in child_keys(changes["parent_id"], current.device_id, current.identity.sn):
                items.append(
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": key | {"deviceId": s(current.device_id)},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                )
            try:
                with translated_errors():
                    ddb.transact_write_items(TransactItems=items)
            except Conflict as exc:
                codes = cancellation_codes(exc)
                if "ConditionalCheckFailed" in codes[1:]:
                    raise Conflict("The new parent has a child with this serial number") from exc
                raise CallsChanged("Another Update Device call was recorded meanwhile") from exc
            new = current.with_changes(
                **changes, update_calls=calls, info_version=current.info_version + (1 if changes else 0)
            )
        if applied:
            self._set_applied(current.device_id, applied)
        return new

    def _set_applied(self, device_id: str, applied: dict[str, int]) -> None:
        attributes = {"config_version": "appliedConfigVersion", "space_version": "appliedSpaceVersion"}
        names = {f"#a{i}": attributes[k] for i, k in enumerate(applied)}
        with translated_errors():
            client("dynamodb").update_item(
                TableName=self.table,
                Key=_key(device_id, STATE),
                UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(applied))),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":a{i}": n(v) for i, v in enumerate(applied.values())},
            )

    # ------------------------------------------------------------------ links
    def children(self, parent_id: str) -> list[str]:
        """The ids of the parent's children, in id order."""
        return [
            item["deviceId"]["S"]
            for item in self._query(
                {
                    "KeyConditionExpression": "pk = :pk AND begins_with(sk, :child)",
                    "ExpressionAttributeValues": {":pk": s(f"DEVICE#{parent_id}"), ":child": s(CHILD)},
                }
            )
            if not item["sk"]["S"].startswith(CHILD_SN)
        ]

    def records(self, device_ids: list[str]) -> list[XyteDevice]:
        """The Xyte records of ``device_ids`` that exist (BatchGetItem, 100 a call), in the given order."""
        found: dict[str, XyteDevice] = {}
        ddb = client("dynamodb")
        for first in range(0, len(device_ids), 100):
            keys = [{"pk": s(f"DEVICE#{d}"), "sk": s("XYTE")} for d in device_ids[first : first + 100]]
            request: dict[str, Any] = {self.table: {"Keys": keys}}
            for _ in range(5):
                with translated_errors():
                    answer = ddb.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    record = record_from(item)
                    found[record.device_id] = record
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
        return [found[d] for d in device_ids if d in found]

    def model_devices(self, model_id: str) -> Iterator[str]:
        """The ids of the model's devices."""
        for item in self._query(
            {
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :device)",
                "ExpressionAttributeValues": {":pk": s(f"XYTEMODEL#{model_id}"), ":device": s("DEVICE#")},
            }
        ):
            yield item["deviceId"]["S"]

    def model_in_use(self, model_id: str) -> bool:
        with translated_errors():
            page = client("dynamodb").query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :device)",
                ExpressionAttributeValues={":pk": s(f"XYTEMODEL#{model_id}"), ":device": s("DEVICE#")},
                Limit=1,
            )
        return bool(page.get("Items"))

    def set_api_version(self, device_id: str, api_version: str) -> None:
        """Copy a model's new API version to one of its device records (absent records are skipped)."""
        try:
            with translated_errors():
                client("dynamodb").update_item(
                    TableName=self.table,
                    Key={"pk": s(f"DEVICE#{device_id}"), "sk": s("XYTE")},
                    UpdateExpression="SET apiVersion = :v",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={":v": s(api_version)},
                )
        except Conflict:
            return  # deleted meanwhile

    def _query(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        ddb = client("dynamodb")
        request = {"TableName": self.table, **params}
        while True:
            with translated_errors():
                page = ddb.query(**request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ------------------------------------------------------------------ space
    def put_space(self, device_id: str, space: SpaceInfo) -> None:
        document = {
            "lat": space.lat,
            "lng": space.lng,
            "utc_offset": space.utc_offset,
            "location_name": space.location_name,
            "temperature_units": space.temperature_units,
            "maintenance": space.maintenance,
            "name": space.name,
        }
        with translated_errors():
            client("dynamodb").put_item(
                TableName=self.table,
                Item=_key(device_id, SPACE) | {"space": s(json.dumps(document, separators=(",", ":")))},
            )

    def space(self, device_id: str) -> SpaceInfo | None:
        with translated_errors():
            item = client("dynamodb").get_item(TableName=self.table, Key=_key(device_id, SPACE)).get("Item")
        return SpaceInfo(**json.loads(item["space"]["S"])) if item else None

    # ------------------------------------------------------------------ cloud settings
    def set_setting(self, device_id: str, name: str, value: Any) -> dict[str, Any]:
        """Set one property; every stored property after the write."""
        with translated_errors():
            item = client("dynamodb").update_item(
                TableName=self.table,
                Key=_key(device_id, SETTINGS),
                UpdateExpression="SET #v = :v",
                ExpressionAttributeNames={"#v": f"setting:{name}"},
                ExpressionAttributeValues={":v": s(json.dumps(value))},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        return _settings_from(item)

    def settings(self, device_id: str) -> dict[str, Any]:
        with translated_errors():
            item = (
                client("dynamodb").get_item(TableName=self.table, Key=_key(device_id, SETTINGS)).get("Item")
            )
        return _settings_from(item or {})

    # ------------------------------------------------------------------ incidents
    def open_count(self, device_id: str) -> int:
        with translated_errors():
            page = client("dynamodb").query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :open)",
                ExpressionAttributeValues={":pk": s(f"DEVICE#{device_id}"), ":open": s(f"{INCIDENT}OPEN#")},
                Select="COUNT",
            )
        return int(page.get("Count", 0))

    def create_incident(self, incident: Incident) -> None:
        with translated_errors():
            client("dynamodb").put_item(
                TableName=self.table,
                Item=_incident_item(incident),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def incidents(self, device_id: str, status: str) -> list[Incident]:
        """Every incident of ``status``, oldest first."""
        return [
            _incident_from(i)
            for i in self._query(
                {
                    "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                    "ExpressionAttributeValues": {
                        ":pk": s(f"DEVICE#{device_id}"),
                        ":prefix": s(_incident_prefix(status)),
                    },
                }
            )
        ]

    def incident_page(
        self, device_id: str, status: str, limit: int, next_token: str | None
    ) -> tuple[list[Incident], str | None]:
        """One page of the device's incidents of ``status``, newest first."""
        prefix = _incident_prefix(status)
        params = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": s(f"DEVICE#{device_id}"), ":prefix": s(prefix)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        items, cursor = query_page(
            params, next_token, PageKey(PAGE_KEY_TYPES, ("pk", f"DEVICE#{device_id}"), ("sk", prefix))
        )
        return [_incident_from(i) for i in items], cursor

    def incident(self, device_id: str, incident_id: str) -> Incident:
        ddb = client("dynamodb")
        for status in (OPEN, CLOSED):
            with translated_errors():
                item = ddb.get_item(
                    TableName=self.table, Key=_key(device_id, _incident_prefix(status) + incident_id)
                ).get("Item")
            if item:
                return _incident_from(item)
        raise NotFound(f"Incident '{incident_id}' not found")

    def close_incident(self, incident: Incident, closed_at: int, closed_by: str) -> Incident:
        """Move an open incident to the closed ones (``Conflict`` if it was closed meanwhile)."""
        closed = replace(incident, status=CLOSED, closed_at=closed_at, closed_by=closed_by)
        with translated_errors(conflict=f"Incident '{incident.id}' was closed meanwhile"):
            client("dynamodb").transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": _key(incident.device_id, _incident_prefix(OPEN) + incident.id),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self.table, "Item": _incident_item(closed)}},
                ]
            )
        return closed


def _settings_from(item: dict[str, Any]) -> dict[str, Any]:
    return {
        k.removeprefix("setting:"): json.loads(v["S"]) for k, v in item.items() if k.startswith("setting:")
    }


def _incident_prefix(status: str) -> str:
    return f"{INCIDENT}{'OPEN' if status == OPEN else 'CLOSED'}#"


def _incident_item(incident: Incident) -> dict[str, Any]:
    document = {
        "title": incident.title,
        "issue": incident.issue,
        "priority": incident.priority,
        "description": incident.description,
    }
    item: dict[str, Any] = _key(incident.device_id, _incident_prefix(incident.status) + incident.id) | {
        "incidentId": s(incident.id),
        "incident": s(json.dumps(document, separators=(",", ":"))),
        "createdAt": n(incident.created_at),
    }
    if incident.closed_at is not None:
        item["closedAt"] = n(incident.closed_at)
    if incident.closed_by is not None:
        item["closedBy"] = s(incident.closed_by)
    return item


def _incident_from(item: dict[str, Any]) -> Incident:
    document = json.loads(item["incident"]["S"])
    return Incident(
        device_id=item["pk"]["S"].removeprefix("DEVICE#"),
        id=item["incidentId"]["S"],
        title=document["title"],
        issue=document.get("issue"),
        priority=document.get("priority"),
        description=document.get("description"),
        created_at=int(item["createdAt"]["N"]),
        status=CLOSED if item["sk"]["S"].startswith(_incident_prefix(CLOSED)) else OPEN,
        closed_at=int(item["closedAt"]["N"]) if "closedAt" in item else None,
        closed_by=item["closedBy"]["S"] if "closedBy" in item else None,
    )
