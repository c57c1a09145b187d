"""Steps the OTA integration tests share: operator calls to ``ManageOtaFunction`` and device downloads
from ``TbGetFirmwareFunction`` / ``TbGetSoftwareFunction``, with the events in ``events/``."""

from __future__ import annotations

import json
from typing import Any

import boto3

from fleetgate_local.inprocess import load_event
from tests.integration.conftest import (
    DEVICE_PLACEHOLDER,
    EVENTS,
    TOKEN_PLACEHOLDER,
    Stack,
    with_body,
    with_query,
)

MANAGE = "ManageOtaFunction"
FIRMWARE_FN = "TbGetFirmwareFunction"
SOFTWARE_FN = "TbGetSoftwareFunction"
PACKAGE_PLACEHOLDER = "4c3e7a52-93f1-4d0e-9a77-1f0b6c2d8e90"
PROFILE_PLACEHOLDER = "d2b1f1c6-5a0e-4b8a-9a51-0c4f7e3b2a10"


def ota_event(
    name: str, *, package_id: str = PACKAGE_PLACEHOLDER, target_id: str | None = None
) -> dict[str, Any]:
    """An event from ``events/manage`` addressed to a package, or to a device or profile (``target_id``)."""
    replacements = {PACKAGE_PLACEHOLDER: package_id}
    if target_id is not None:
        replacements |= {DEVICE_PLACEHOLDER: target_id, PROFILE_PLACEHOLDER: target_id}
    return load_event(EVENTS / "manage" / f"{name}.json", **replacements)


def call(
    stack: Stack,
    name: str,
    *,
    package_id: str = PACKAGE_PLACEHOLDER,
    target_id: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Invoke an operator route; returns the status and the parsed body (None when empty)."""
    ev = ota_event(name, package_id=package_id, target_id=target_id)
    if raw is not None:
        ev = with_body(ev, raw)
        ev["headers"]["content-type"] = "application/octet-stream"
    elif body is not None:
        ev = with_body(ev, body if isinstance(body, str) else json.dumps(body))
    if query is not None:
        ev = with_query(ev, query)
    response = stack.invoke(MANAGE, ev)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def create(stack: Stack, **fields: Any) -> dict[str, Any]:
    body = {"type": "FIRMWARE", "title": "thermostat-fw", "version": "1.0"} | fields
    status, created = call(stack, "create_ota_package", body=body)
    assert status == 201, created
    return dict(created["data"])


def ready_package(stack: Stack, data: bytes, **fields: Any) -> dict[str, Any]:
    """A READY package holding ``data`` (created, then uploaded through the API)."""
    package = create(stack, **fields)
    status, uploaded = call(stack, "upload_ota_package_data", package_id=package["id"], raw=data)
    assert status == 200, uploaded
    return dict(uploaded["data"])


def assign(stack: Stack, device_id: str, **changes: str | None) -> tuple[int, Any]:
    return call(stack, "put_device_ota", target_id=device_id, body=changes)


def assign_profile(stack: Stack, profile_id: str, **changes: str | None) -> tuple[int, Any]:
    return call(stack, "put_profile_ota", target_id=profile_id, body=changes)


def download(
    stack: Stack, token: str, query: dict[str, str] | None, *, software: bool = False
) -> dict[str, Any]:
    """The raw Lambda response of a device's firmware (or software) request."""
    kind = "software" if software else "firmware"
    ev = load_event(EVENTS / "thingsboard" / f"get_{kind}.json", **{TOKEN_PLACEHOLDER: token})
    return stack.invoke(SOFTWARE_FN if software else FIRMWARE_FN, with_query(ev, query))


def ota_items(stack: Stack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=stack.table("OtaTable"))["Items"]
    return items


def bucket_keys(stack: Stack) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=stack.table("FilesBucket"))
    return [o["Key"] for o in listed.get("Contents", [])]
