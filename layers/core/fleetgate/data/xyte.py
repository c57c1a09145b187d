"""Xyte models and devices' Xyte records in the registry table (``DEVICES_TABLE``).

Item kinds, all keyed ``pk``/``sk``:
- ``XYTEMODEL#<id>`` / ``META``: a model (``kind=xyte-model`` lists models by name in ``ByKindAndName``);
- ``XYTEMODELNAME#<name>``: claims a model name; ``HWKEY#<sha256>``: resolves a hardware key digest
  to its model in one GetItem;
- ``DEVICE#<id>`` / ``XYTE``: the Xyte side of a registry device (written in the device's own create
  transaction, removed with the device's satellites);
- ``XYTECLOUD#<cloud id>``, ``XYTEMACSN#<mac>#<sn>``: a registration's identity claims, released when
  the device is deleted;
- a registration's links (its model's device list, its parent's children): see ``link_items``.
"""

from __future__ import annotations

import json
from typing import Any

from fleetgate.data.aws import PageKey, client, create_all, n, query_page, s, translated_errors
from fleetgate.data.devices import BY_KIND_KEY, INDEX
from fleetgate.domain.xyte import Identity, XyteDevice, XyteModel
from fleetgate.errors import Conflict, NotFound

META = "META"
RECORD = "XYTE"
MODEL_KIND = "xyte-model"


def _model_key(model_id: str) -> dict[str, Any]:
    return {"pk": s(f"XYTEMODEL#{model_id}"), "sk": s(META)}


def _model_name_key(name: str) -> dict[str, Any]:
    return {"pk": s(f"XYTEMODELNAME#{name}"), "sk": s(META)}


def _hardware_key(digest: str) -> dict[str, Any]:
    return {"pk": s(f"HWKEY#{digest}"), "sk": s(META)}


def _record_key(device_id: str) -> dict[str, Any]:
    return {"pk": s(f"DEVICE#{device_id}"), "sk": s(RECORD)}


def _model_item(model: XyteModel) -> dict[str, Any]:
    item = {
        **_model_key(model.id),
        "kind": s(MODEL_KIND),
        "id": s(model.id),
        "name": s(model.name),
        "apiVersion": s(model.api_version),
        "hardwareKeyHash": s(model.hardware_key_hash),
        "createdAt": n(model.created_at),
    }
    for attribute, value in (
        ("vendor", model.vendor),
        ("latestFwVersion", model.latest_fw_version),
        ("latestFwFileId", model.latest_fw_file_id),
    ):
        if value is not None:
            item[attribute] = s(value)
    return item


def _model_from(item: dict[str, Any]) -> XyteModel:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    return XyteModel(
        id=item["id"]["S"],
        name=item["name"]["S"],
        api_version=item["apiVersion"]["S"],
        hardware_key_hash=item["hardwareKeyHash"]["S"],
        created_at=int(item["createdAt"]["N"]),
        vendor=text("vendor"),
        latest_fw_version=text("latestFwVersion"),
        latest_fw_file_id=text("latestFwFileId"),
    )


def record_item(record: XyteDevice) -> dict[str, Any]:
    """The ``DEVICE#<id>`` / ``XYTE`` item (for the device's create transaction)."""
    item: dict[str, Any] = {
        **_record_key(record.device_id),
        "modelId": s(record.model_id),
        "apiVersion": s(record.api_version),
        "firmwareVersion": s(record.firmware_version),
        "details": s(json.dumps(record.details, separators=(",", ":"))),
        "registeredAt": n(record.registered_at),
        "configVersion": n(record.config_version),
        "spaceVersion": n(record.space_version),
        "infoVersion": n(record.info_version),
        "newLicenses": {"BOOL": record.new_licenses},
        "commandPending": {"BOOL": record.command_pending},
        "updateCalls": {"L": [n(t) for t in record.update_calls]},
    }
    for attribute, value in (
        ("cloudId", record.identity.cloud_id),
        ("mac", record.identity.mac),
        ("sn", record.identity.sn),
        ("xyteName", record.name),
        ("subModel", record.sub_model),
        ("parentId", record.parent_id),
        ("hostAddress", record.host_address),
    ):
        if value is not None:
            item[attribute] = s(value)
    return item


def record_from(item: dict[str, Any]) -> XyteDevice:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def number(name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    return XyteDevice(
        device_id=item["pk"]["S"].removeprefix("DEVICE#"),
        model_id=item["modelId"]["S"],
        api_version=item["apiVersion"]["S"],
        identity=Identity(text("cloudId"), text("mac"), text("sn")),
        firmware_version=item["firmwareVersion"]["S"],
        name=text("xyteName"),
        details=json.loads(item["details"]["S"]) if "details" in item else {},
        sub_model=text("subModel"),
        parent_id=text("parentId"),
        host_address=text("hostAddress"),
        registered_at=number("registeredAt"),
        config_version=number("configVersion"),
        space_version=number("spaceVersion"),
        info_version=number("infoVersion"),
        new_licenses=item.get("newLicenses", {}).get("BOOL", False),
        command_pending=item.get("commandPending", {}).get("BOOL", False),
        update_calls=tuple(int(v["N"]) for v in item.get("updateCalls", {}).get("L", [])),
    )


def claim_items(record: XyteDevice) -> list[dict[str, Any]]:
    """The registration's identity claims (for the device's create transaction)."""
    return [
        {"pk": s(key), "sk": s(META), "deviceId": s(record.device_id)} for key in record.identity.claims()
    ]


class XyteRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    # ------------------------------------------------------------------ models
    def create_model(self, model: XyteModel) -> None:
        """The model, its name claim and its hardware key at once (each must be free)."""
        create_all(
            self.table,
            [
                _model_name_key(model.name) | {"modelId": s(model.id)},
                _hardware_key(model.hardware_key_hash) | {"modelId": s(model.id)},
                _model_item(model),
            ],
            {0: f"A model named '{model.name}' already exists", 1: "That hardware key is already in use"},
        )

    def get_model(self, model_id: str) -> XyteModel:
        with translated_errors():
            item = client("dynamodb").get_item(TableName=self.table, Key=_model_key(model_id)).get("Item")
        if not item:
            raise NotFound(f"Model '{model_id}' not found")
        return _model_from(item)

    def model_for_key(self, digest: str) -> XyteModel | None:
        """The model a hardware key digest names (two GetItems), or None."""
        with translated_errors():
            item = client("dynamodb").get_item(TableName=self.table, Key=_hardware_key(digest)).get("Item")
        if not item:
            return None
        try:
            return self.get_model(item["modelId"]["S"])
        except NotFound:
            return None

    def save_model(self, current: XyteModel, new: XyteModel) -> None:
        """Replace ``current`` with ``new`` (same id, name and key) unless it changed meanwhile."""
        with translated_errors(conflict=f"Model '{current.id}' was changed concurrently; retry"):
            client("dynamodb").put_item(
                TableName=self.table,
                Item=_model_item(new),
                ConditionExpression="apiVersion = :v AND hardwareKeyHash = :h",
                ExpressionAttributeValues={":v": s(current.api_version), ":h": s(current.hardware_key_hash)},
            )

    def list_models(self, limit: int, next_token: str | None) -> tuple[list[XyteModel], str | None]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX,
            "KeyConditionExpression": "kind = :kind",
            "ExpressionAttributeValues": {":kind": s(MODEL_KIND)},
            "Limit": limit,
        }
        items, cursor = query_page(params, next_token, PageKey(BY_KIND_KEY, ("kind", MODEL_KIND)))
        return [_model_from(i) for i in items], cursor

    def delete_model(self, model: XyteModel) -> None:
        with translated_errors(conflict=f"Model '{model.id}' was changed concurrently; retry"):
            client("dynamodb").transact_write_items(
                TransactItems=[
                    {"Delete": {"TableName": self.table, "Key": _model_key(model.id)}},
                    {"Delete": {"TableName": self.table, "Key": _model_name_key(model.name)}},
                    {"Delete": {"TableName": self.table, "Key": _hardware_key(model.hardware_key_hash)}},
                ]
            )

    # ------------------------------------------------------------------ devices
    def get(self, device_id: str, *, consistent: bool = False) -> XyteDevice | None:
        """The device's Xyte record, or None (not a Xyte device, or no such device)."""
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=_record_key(device_id), ConsistentRead=consistent)
                .get("Item")
            )
        return record_from(item) if item else None

    def update(self, device_id: str, values: dict[str, Any]) -> XyteDevice:
        """SET the given record attributes (DynamoDB-typed values) on an existing record; the record as
        written. ``NotFound`` when the device has none."""
        names = {f"#a{i}": name for i, name in enumerate(values)}
        expression = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values)))
        try:
            with translated_errors():
                item = client("dynamodb").update_item(
                    TableName=self.table,
                    Key=_record_key(device_id),
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={f":v{i}": v for i, v in enumerate(values.values())},
                    ReturnValues="ALL_NEW",
                )["Attributes"]
        except Conflict as exc:
            raise NotFound(f"Device '{device_id}' is not a Xyte device") from exc
        return record_from(item)

    def bump(self, device_id: str, counter: str, flags: dict[str, bool] | None = None) -> XyteDevice:
        """Add 1 to a version counter (``configVersion``, ``spaceVersion``, ``infoVersion``) atomically,
        setting ``flags`` on the way; the record as written."""
        values: dict[str, Any] = {":one": n(1)}
        sets = []
        for i, (name, flag) in enumerate((flags or {}).items()):
            sets.append(f"{name} = :f{i}")
            values[f":f{i}"] = {"BOOL": flag}
        expression = f"ADD {counter} :one" + (" SET " + ", ".join(sets) if sets else "")
        try:
            with translated_errors():
                item = client("dynamodb").update_item(
                    TableName=self.table,
                    Key=_record_key(device_id),
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )["Attributes"]
        except Conflict as exc:
            raise NotFound(f"Device '{device_id}' is not a Xyte device") from exc
        return record_from(item)

    def release_claims(self, device_id: str) -> None:
        """Free the identity claims of a device's registration (the device is being deleted), so the
        same hardware can register again."""
        record = self.get(device_id, consistent=True)
        if record is None:
            return
        ddb = client("dynamodb")
        for key in record.identity.claims():
            try:
                with translated_errors():
                    ddb.delete_item(
                        TableName=self.table,
                        Key={"pk": s(key), "sk": s(META)},
                        ConditionExpression="deviceId = :d",
                        ExpressionAttributeValues={":d": s(device_id)},
                    )
            except Conflict:
                continue  # held by another registration (never this device's): leave it
        for link in link_keys(record):  # its model's device list, its parent's children
            try:
                with translated_errors():
                    ddb.delete_item(
                        TableName=self.table,
                        Key=link,
                        ConditionExpression="deviceId = :d",
                        ExpressionAttributeValues={":d": s(device_id)},
                    )
            except Conflict:
                continue  # absent, or another child's serial number claim


# --------------------------------------------------------------------------- registration links
# Written in a device's create transaction (``services.xyte.register``), removed with its claims:
# - ``XYTEMODEL#<model id>`` / ``DEVICE#<device id>``: the model's devices (a model in use cannot be
#   deleted; a new API version reaches every device record of the model);
# - ``DEVICE#<parent id>`` / ``XYTECHILD#<child id>``: a parent's children (deleted with the parent);
# - ``DEVICE#<parent id>`` / ``XYTECHILDSN#<sn>``: a serial number registers once per parent.
CHILD = "XYTECHILD#"
CHILD_SN = "XYTECHILDSN#"


def member_key(model_id: str, device_id: str) -> dict[str, Any]:
    return {"pk": s(f"XYTEMODEL#{model_id}"), "sk": s(f"DEVICE#{device_id}")}


def child_keys(parent_id: str, device_id: str, sn: str | None) -> list[dict[str, Any]]:
    keys = [{"pk": s(f"DEVICE#{parent_id}"), "sk": s(f"{CHILD}{device_id}")}]
    if sn is not None:
        keys.append({"pk": s(f"DEVICE#{parent_id}"), "sk": s(f"{CHILD_SN}{sn}")})
    return keys


def link_items(record: XyteDevice) -> list[tuple[dict[str, Any], str | None]]:
    """The registration's links, each with what a held key means (None: it cannot be held)."""
    links: list[tuple[dict[str, Any], str | None]] = [
        (member_key(record.model_id, record.device_id) | {"deviceId": s(record.device_id)}, None)
    ]
    if record.parent_id is not None:
        child, *sn = child_keys(record.parent_id, record.device_id, record.identity.sn)
        links.append((child | {"deviceId": s(record.device_id)}, None))
        links += [
            (key | {"deviceId": s(record.device_id)}, "The parent has a child with this serial number")
            for key in sn
        ]
    return links


def link_keys(record: XyteDevice) -> list[dict[str, Any]]:
    keys = [member_key(record.model_id, record.device_id)]
    if record.parent_id is not None:
        keys += child_keys(record.parent_id, record.device_id, record.identity.sn)
    return keys
