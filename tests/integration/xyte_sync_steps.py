"""Steps shared by the Xyte config, command and license tests: Xyte devices registered through the core
(one per model API version), hub calls with the device's access key, operator calls, topic-rule events
and what the IoT data plane was asked to publish (moto records it; the call parameters carry the MQTT 5
properties)."""

from __future__ import annotations

import base64
import copy
import functools
import json
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iotdata.models import iotdata_backends

from fleetgate.domain.xyte import Identity
from fleetgate.services import xyte
from fleetgate.services.xyte import Registration
from fleetgate.settings import get_settings
from fleetgate_local.inprocess import load_event, recorded_aws_calls
from fleetgate_local.template import Template, load_template_file
from tests.integration.conftest import DEVICE_PLACEHOLDER, EVENTS, TOKEN_PLACEHOLDER, Stack, with_body
from tests.openapi_conformance import conformance_problems

ROOT = Path(__file__).resolve().parents[2]
IOT_DATA_ENDPOINT = "https://data-ats.iot.us-east-1.amazonaws.com"  # the address moto's mock serves
COMMAND_PLACEHOLDER = "3f0e2b1c-7a9d-4e5f-8b6a-1c2d3e4f5a60"
LICENSE_PLACEHOLDER = "7b6a5c4d-3e2f-4a1b-9c8d-0e1f2a3b4c5d"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
_serial = count(1)
ANSWERS: list[tuple[str, int]] = []  # (route key, status) of every ``call``, for coverage checks


@functools.cache
def _template_document() -> dict[str, Any]:
    return load_template_file(ROOT / "template.yaml")


@pytest.fixture
def template() -> Template:
    """The template with ``IotDataEndpoint`` at the address moto's in-process mock serves."""
    return Template(copy.deepcopy(_template_document()), ROOT, {"IotDataEndpoint": IOT_DATA_ENDPOINT})


@pytest.fixture(autouse=True)
def _core_settings(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables, for the steps that register devices through the core."""
    monkeypatch.setenv("DEVICES_TABLE", stack.table("DevicesTable"))
    monkeypatch.setenv("COMMANDS_TABLE", stack.table("CommandsTable"))
    get_settings.cache_clear()


@dataclass(frozen=True)
class XyteDevice:
    id: str
    key: str
    api_version: str


def register(api_version: str = "1.0.7", parent: XyteDevice | None = None) -> XyteDevice:
    """A Xyte device of a model of ``api_version`` (a child of ``parent``, with its link item, when given)."""
    serial = next(_serial)
    try:
        model = xyte.create_model(f"Display {api_version}", api_version)[0]
    except Exception:  # noqa: BLE001 - the model of this version exists already
        model = next(m for m in xyte.list_models(100, None)[0] if m.api_version == api_version)
    record, key = xyte.register(
        model,
        Registration(
            Identity(f"cloud-{serial}", None, None),
            "1.0.1",
            name=f"display {serial}",
            parent_id=parent.id if parent else None,
        ),
    )
    if parent is not None:  # what child registration writes beside the child's record
        boto3.client("dynamodb").put_item(
            TableName=get_settings().devices_table,
            Item={"pk": {"S": f"DEVICE#{parent.id}"}, "sk": {"S": f"XYTECHILD#{record.device_id}"}},
        )
    return XyteDevice(record.device_id, key, api_version)


def _function(stack: Stack, route_key: str) -> str:
    return next(
        f.logical_id for f in stack.template.functions() for r in f.routes if r.route_key == route_key
    )


def call(
    stack: Stack, name: str, device: XyteDevice | str, body: Any = None, *, key: str | None = None, **ids: str
) -> tuple[int, Any]:
    """Invoke the function of ``events/<name>.json`` addressed to ``device`` (its key unless ``key``);
    ``command``/``license`` ids replace the events' placeholders. Every answer is checked against the
    OpenAPI document. Returns the status and the decoded body."""
    device_id = device if isinstance(device, str) else device.id
    access_key = key if key is not None else ("" if isinstance(device, str) else device.key)
    replacements = {TOKEN_PLACEHOLDER: access_key, DEVICE_PLACEHOLDER: device_id}
    if "command" in ids:
        replacements[COMMAND_PLACEHOLDER] = ids["command"]
    if "license" in ids:
        replacements[LICENSE_PLACEHOLDER] = ids["license"]
    ev = load_event(EVENTS / f"{name}.json", **replacements)
    if body is not None:
        ev = with_body(ev, body if isinstance(body, str | bytes) else json.dumps(body))
    response = stack.invoke(_function(stack, ev["routeKey"]), ev)
    problems = conformance_problems(ev["routeKey"], response)
    assert not problems, (ev["routeKey"], response["statusCode"], problems)
    ANSWERS.append((ev["routeKey"], response["statusCode"]))
    text = response.get("body") or ""
    return response["statusCode"], json.loads(text) if text else None


def ok(
    stack: Stack, name: str, device: XyteDevice | str, body: Any = None, status: int = 200, **ids: str
) -> Any:
    got, answer = call(stack, name, device, body, **ids)
    assert got == status, answer
    return answer


def publishes(
    stack: Stack, name: str, device: XyteDevice | str, body: Any = None, **ids: str
) -> tuple[int, Any, list[dict[str, Any]]]:
    """``call``, and the Publish calls it made (their parameters, the payload decoded as JSON)."""
    with recorded_aws_calls() as calls:
        status, answer = call(stack, name, device, body, **ids)
    return status, answer, published_in(calls)


def published_in(calls: list[Any]) -> list[dict[str, Any]]:
    found = []
    for c in calls:
        if c.operation == "Publish":
            params = dict(c.params)
            params["json"] = json.loads(params["payload"])
            if "correlationData" in params:
                params["correlation"] = base64.b64decode(params["correlationData"]).decode(errors="replace")
            found.append(params)
    return found


def recorded() -> list[tuple[str, Any]]:
    """What moto's IoT data plane holds as published: (topic, JSON payload)."""
    return [
        (t, json.loads(p)) for t, p in iotdata_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].published_payloads
    ]


def items(stack: Stack) -> list[dict[str, Any]]:
    """Every item of the registry and commands tables (to show nothing was written)."""
    ddb = boto3.client("dynamodb")
    return sorted(
        (
            json.dumps(i, sort_keys=True)
            for table in ("DevicesTable", "CommandsTable")
            for i in ddb.scan(TableName=stack.table(table))["Items"]
        ),
    )  # type: ignore[return-value]


def rule_event(
    name: str, device: XyteDevice, *, body: Any = None, correlation: bytes | str | None = None, **fields: Any
) -> dict[str, Any]:
    """The topic-rule event ``events/xyte/<name>.json`` from ``device``; ``body`` replaces the payload
    (bytes as they are), ``correlation`` the correlation data (``b""`` or "" removes it; a text one also
    replaces the ids the event's payload names); ``fields`` replace the SELECT's values (None removes
    one)."""
    ev = load_event(
        EVENTS / "xyte" / f"{name}.json", **{DEVICE_PLACEHOLDER: device.id, TOKEN_PLACEHOLDER: device.key}
    )
    if isinstance(correlation, str) and correlation:  # the payload (base64) names the same id
        text = base64.b64decode(ev["payload"]).decode()
        for placeholder in (COMMAND_PLACEHOLDER, LICENSE_PLACEHOLDER):
            text = text.replace(placeholder, correlation)
        ev["payload"] = base64.b64encode(text.encode()).decode()
    if body is not None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        ev["payload"] = base64.b64encode(raw).decode()
    if correlation is not None:
        data = correlation.encode() if isinstance(correlation, str) else correlation
        if data:
            ev["correlationData"] = base64.b64encode(data).decode()
        else:
            ev.pop("correlationData", None)
    for field, value in fields.items():
        if value is None:
            ev.pop(field, None)
        else:
            ev[field] = value
    return ev


def deliver(stack: Stack, function: str, ev: Any) -> list[dict[str, Any]]:
    """Invoke a rule function (it must never raise) and return the publishes it made."""
    with recorded_aws_calls() as calls:
        assert stack.invoke(function, ev) is None
    return published_in(calls)
