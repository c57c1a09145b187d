"""Steps the Xyte registry tests share: operator calls, registration, hub calls and rule messages,
each through the template's functions and the events of ``events/``."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iotdata.models import iotdata_backends

from fleetgate_local.inprocess import load_event, recorded_aws_calls
from tests.integration.conftest import DEVICE_PLACEHOLDER, EVENTS, TOKEN_PLACEHOLDER, Stack, with_body

IOT_DATA_ENDPOINT = "https://data-ats.iot.us-east-1.amazonaws.com"  # the address moto's mock serves
HARDWARE_KEY_PLACEHOLDER = "A1_TEST_HARDWARE_KEY"
MODEL_PLACEHOLDER = "A1_TEST_MODEL_ID"
KEEP = object()

FUNCTIONS = {
    "register": "XyteRegisterFunction",
    "device": "XyteDeviceFunction",
    "delete": "XyteDeleteDeviceFunction",
    "telemetry": "XyteTelemetryFunction",
    "events": "XyteEventsFunction",
    "incidents": "XyteIncidentsFunction",
}


def decoded(response: dict[str, Any]) -> tuple[int, Any]:
    text = response.get("body") or ""
    return response["statusCode"], json.loads(text) if text else None


# --------------------------------------------------------------------------- operator
def operator(stack: Stack, function: str, name: str, body: Any = KEEP, **replace: str) -> tuple[int, Any]:
    ev = load_event(EVENTS / "manage" / f"{name}.json", **replace)
    if body is not KEEP:
        ev = with_body(ev, body if isinstance(body, str) or body is None else json.dumps(body))
    return decoded(stack.invoke(function, ev))


def with_query(ev: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    ev = copy.deepcopy(ev)
    ev["queryStringParameters"] = query
    ev["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return ev


def create_model(
    stack: Stack, api_version: str = "1.0.7", name: str = "Projector X1", **extra: Any
) -> tuple[str, str]:
    """A model made through the operator API: (model id, hardware key)."""
    status, body = operator(
        stack,
        "ManageXyteModelsFunction",
        "create_xyte_model",
        {"name": name, "api_version": api_version, **extra},
    )
    assert status == 201, body
    return body["data"]["id"], body["data"]["hardware_key"]


# --------------------------------------------------------------------------- devices
@dataclass
class XDevice:
    id: str
    key: str
    answer: dict[str, Any]


def registration_event(
    hardware_key: str, body: Any = KEEP, name: str = "register_post_device"
) -> dict[str, Any]:
    ev = load_event(EVENTS / "xyte" / f"{name}.json", **{HARDWARE_KEY_PLACEHOLDER: hardware_key})
    if body is not KEEP:
        ev = with_body(ev, body if isinstance(body, str) else json.dumps(body))
    return ev


def register(stack: Stack, hardware_key: str, **fields: Any) -> tuple[int, Any]:
    """``POST /v1/devices`` with the seed's body, ``fields`` replacing (None removing) its fields."""
    body = json.loads(registration_event(hardware_key)["body"])
    body |= fields
    body = {k: v for k, v in body.items() if v is not None}
    return decoded(stack.invoke(FUNCTIONS["register"], registration_event(hardware_key, body)))


def registered(stack: Stack, hardware_key: str, **fields: Any) -> XDevice:
    status, answer = register(stack, hardware_key, **fields)
    assert status == 201, answer
    return XDevice(answer["id"], answer["access_key"], answer)


def hub_event(name: str, token: str, device_id: str, body: Any = KEEP, **replace: str) -> dict[str, Any]:
    ev = load_event(
        EVENTS / "xyte" / f"{name}.json",
        **{TOKEN_PLACEHOLDER: token, DEVICE_PLACEHOLDER: device_id, **replace},
    )
    if body is not KEEP:
        ev = with_body(ev, body if isinstance(body, str) or body is None else json.dumps(body))
    return ev


def hub(
    stack: Stack,
    function: str,
    name: str,
    device: XDevice,
    body: Any = KEEP,
    *,
    token: str | None = None,
    **replace: str,
) -> tuple[int, Any]:
    """A hub route with ``device``'s key (or ``token``) on ``device``'s path."""
    ev = hub_event(name, device.key if token is None else token, device.id, body, **replace)
    return decoded(stack.invoke(FUNCTIONS[function], ev))


def registry_items(stack: Stack) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=stack.table("DevicesTable"))["Items"]


def table_items(stack: Stack, logical_id: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=stack.table(logical_id))["Items"]


def snapshot(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """Every item of the tables the Xyte routes write."""
    tables = ("DevicesTable", "TelemetryTable", "ShadowsTable", "ShadowHistoryTable", "EventsTable")
    return {t: sorted(table_items(stack, t), key=lambda i: json.dumps(i, sort_keys=True)) for t in tables}


# --------------------------------------------------------------------------- MQTT
def rule_event(name: str, device: XDevice, payload: Any = KEEP, **fields: Any) -> dict[str, Any]:
    """The rule event ``events/xyte/<name>.json`` from ``device`` (its id and key); ``payload`` replaces
    the message (JSON unless bytes), ``fields`` the SELECT's values (None removes one)."""
    ev = load_event(
        EVENTS / "xyte" / f"{name}.json", **{TOKEN_PLACEHOLDER: device.key, DEVICE_PLACEHOLDER: device.id}
    )
    if payload is not KEEP:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        ev["payload"] = base64.b64encode(raw).decode()
    for key, value in fields.items():
        if value is None:
            ev.pop(key, None)
        else:
            ev[key] = value
    return ev


def deliver(stack: Stack, function: str, ev: Any) -> list[tuple[str, Any, dict[str, Any]]]:
    """Invoke a rule function; the messages it published: (topic, JSON payload, call parameters)."""
    with recorded_aws_calls() as calls:
        assert stack.invoke(function, ev) is None
    return [
        (c.params["topic"], json.loads(c.params["payload"]), c.params)
        for c in calls
        if c.operation == "Publish"
    ]


def published() -> list[tuple[str, bytes]]:
    return list(iotdata_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].published_payloads)
