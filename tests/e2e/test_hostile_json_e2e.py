"""JSON that no store or answer can hold gets a 4xx in each dialect's own format, never a 5xx, and
nothing is written: deep nesting (1,000 and 50,000 levels), numbers beyond float range (``1e400``) and
strings with a lone surrogate (``"\\ud800"``), on ThingsBoard telemetry and attributes, ThingDatas
shadow reports and events, and the operator's shared attributes, RPC and commands."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e

DEEP_OBJECTS = b'{"a":' * 1000 + b"1" + b"}" * 1000
DEEP_ARRAYS = b"[" * 50_000 + b"]" * 50_000
HUGE = b'{"x":1e400}'
NEGATIVE_HUGE = b'{"x":-1e400}'
SURROGATE = b'{"x":"\\ud800"}'
SURROGATE_KEY = b'{"\\udfff":1}'
HOSTILE = {
    "deep-1000": DEEP_OBJECTS,
    "deep-50000": DEEP_ARRAYS,
    "1e400": HUGE,
    "-1e400": NEGATIVE_HUGE,
    "surrogate": SURROGATE,
    "surrogate-key": SURROGATE_KEY,
}


@pytest.fixture(scope="module")
def target(stack: Any, operator_token: str) -> dict[str, Any]:
    """One device (ThingsBoard token, ThingDatas thing) and an API key allowed everything."""
    operator = {"Authorization": f"Bearer {operator_token}"}
    name = f"hostile-{uuid.uuid4().hex[:10]}"
    created = requests.post(
        f"{stack.url}/manage/v1/devices", json={"name": name}, headers=operator, timeout=30
    )
    assert created.status_code == 201, created.text
    device = created.json()["data"]
    key = requests.post(
        f"{stack.url}/manage/v1/api-keys",
        json={"name": name, "permissions": [{"method": "*", "path": "/api/v1/thing-datas"}]},
        headers=operator,
        timeout=30,
    ).json()["data"]
    basic = base64.b64encode(f"{key['id']}:{key['secret']}".encode()).decode()
    return {
        "name": name,
        "id": device["id"],
        "token": device["credentials"]["accessToken"],
        "basic": {"Authorization": f"Basic {basic}"},
        "operator": operator,
    }


def thingdatas_body(name: str, inner: bytes, *, event: bool = False) -> bytes:
    head = f'{{"thingName":"{name}",'.encode()
    if event:
        return head + b'"eventType":"probe","timestamp":1767225600000,"data":' + inner + b"}"
    return head + b'"state":{"reported":' + inner + b"}}"


def routes(target: dict[str, Any], body: bytes) -> dict[str, tuple[str, str, bytes, dict[str, str]]]:
    tb = f"/api/v1/{target['token']}"
    manage = f"/manage/v1/devices/{target['id']}"
    return {
        "tb-telemetry": ("POST", f"{tb}/telemetry", body, {}),
        "tb-attributes": ("POST", f"{tb}/attributes", body, {}),
        "td-shadow": (
            "POST",
            "/api/v1/thing-datas/shadow/reported",
            thingdatas_body(target["name"], body),
            target["basic"],
        ),
        "td-event": (
            "POST",
            "/api/v1/thing-datas/events",
            thingdatas_body(target["name"], body, event=True),
            target["basic"],
        ),
        "op-shared": ("PUT", f"{manage}/attributes/shared", body, target["operator"]),
        "op-rpc": (
            "POST",
            f"{manage}/rpc",
            b'{"method":"m","persistent":true,"params":' + body + b"}",
            target["operator"],
        ),
        "op-command": (
            "POST",
            f"{manage}/commands",
            b'{"action":"m","params":' + body + b"}",
            target["operator"],
        ),
    }


ROUTES = ("tb-telemetry", "tb-attributes", "td-shadow", "td-event", "op-shared", "op-rpc", "op-command")
# ThingsBoard types a number beyond a long as its text, as ThingsBoard does (docs/thingsboard.md), so
# 1e400 is a value there, not hostile input.
CASES = [
    pytest.param(route, kind, id=f"{kind}-{route}")
    for kind in HOSTILE
    for route in ROUTES
    if not (route.startswith("tb-") and kind.endswith("1e400"))
]


@pytest.mark.parametrize(("route", "kind"), CASES)
def test_hostile_json_is_a_4xx_in_the_dialects_format(
    stack: Any, target: dict[str, Any], route: str, kind: str
) -> None:
    method, path, body, headers = routes(target, HOSTILE[kind])[route]

    response = requests.request(
        method,
        stack.url + path,
        data=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=30,
    )

    assert 400 <= response.status_code < 500, (response.status_code, response.text[:200])
    if route.startswith("td-"):
        assert response.json()["code"] in ("InvalidRequest", "PayloadTooLarge")
    elif route.startswith("op-"):
        assert response.json()["error"]["code"] == response.status_code
    assert_nothing_written(stack, target)


def assert_nothing_written(stack: Any, target: dict[str, Any]) -> None:
    """The module's device still holds nothing: every hostile request before this one was refused."""
    manage = f"{stack.url}/manage/v1/devices/{target['id']}"
    attributes = requests.get(f"{manage}/attributes", headers=target["operator"], timeout=30).json()["data"]
    shadow = requests.get(
        f"{stack.url}/api/v1/thing-datas/{target['name']}/shadow", headers=target["basic"], timeout=30
    ).json()
    rpcs = requests.get(f"{manage}/rpc", headers=target["operator"], timeout=30).json()["data"]
    commands = requests.get(f"{manage}/commands", headers=target["operator"], timeout=30).json()["data"]
    latest = requests.get(f"{manage}/telemetry/latest", headers=target["operator"], timeout=30).json()["data"]

    assert (attributes["client"], attributes["shared"]) == ({}, {})
    assert shadow["reported"] == {} and shadow["version"] == 0
    assert rpcs == [] and commands == [] and latest == {}
