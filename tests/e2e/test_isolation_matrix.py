"""The isolation matrix, generated from the route table of ``template.yaml``, over real HTTP against the
local stack.

1. Every operator route (``/manage/...`` but ``POST /manage/v1/auth``) refuses every bad credential
   with API Gateway's 401 ``{"message":"Unauthorized"}``, and nothing is written: the stored items of
   this module's devices, profiles, keys, packages, RPCs, commands, jobs and groups (every DynamoDB
   table of the stack, and the files bucket) are the same after the request as before.
2. Every device route refuses, for every credential kind of its dialect, to let device B (or a
   credential that is not A's) reach device A's data: the answer is the dialect's own (ThingsBoard's
   status and body, ThingDatas' ``{"code","message"}``), it holds none of A's values, and A's whole
   state as the operator API shows it is unchanged.

The routes come from the template, so a new route is in the matrix the moment it is declared: an operator
route whose path parameters have no value here fails, and so does a device route without an entry in
``DEVICE_ROUTES`` (and an entry for a route the template no longer has). A new dialect's credential kind
is one entry of ``CREDENTIAL_KINDS``; a new credential scheme (how a dialect carries credentials) is a
``scheme`` name shared by its routes and its kinds. ``pytest --collect-only -q`` counts the cells.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.s3.models import s3_backends
from moto.utilities.utils import load_resource

from fleetgate_local.stack import LocalStack
from fleetgate_local.template import Route, Template
from tests.e2e.conftest import REPOSITORY

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_S = 30
LOGIN = "POST /manage/v1/auth"
UNAUTHORIZED = {"message": "Unauthorized"}

TEMPLATE_ROUTES: list[Route] = [
    route for spec in Template.load(REPOSITORY / "template.yaml").functions() for route in spec.routes
]
OPERATOR_ROUTES = sorted(
    r.route_key for r in TEMPLATE_ROUTES if r.path.startswith("/manage/") and r.route_key != LOGIN
)
DEVICE_ROUTE_KEYS = sorted(r.route_key for r in TEMPLATE_ROUTES if not r.path.startswith("/manage/"))


# =========================================================================== the world: A, B and A's data
@dataclass
class Device:
    id: str
    name: str
    token: str


@dataclass
class XyteDevice:
    """A Xyte device: its id (``device_id`` of the hub's paths), its access key, its model and identity."""

    id: str
    key: str
    model_id: str
    hardware_key: str
    cloud_id: str
    mac: str
    sn: str


@dataclass
class World:
    """Device A with distinctive data everywhere, device B, and the credentials the matrix uses; the same
    for Xyte (``xa``, ``xb``: devices of two models)."""

    stack: LocalStack
    operator_token: str
    marker: str
    a: Device
    b: Device
    secrets: list[str]  # A's distinctive values: none may appear in an answer to a refused credential
    ids: dict[str, str]  # path-parameter values and other identifiers of A's data
    keys: dict[str, str]  # API keys: kind -> "id:secret"
    profiles: dict[str, dict[str, str]]  # name -> {"id", "key", "secret"}
    identifiers: list[str] = field(default_factory=list)  # what this module's stored items mention
    xa: XyteDevice | None = None
    xb: XyteDevice | None = None
    xchild: XyteDevice | None = None  # a child of Xyte A: another device, with a key of its own
    gateway: str = ""  # ThingsPro gateway A (offline, with a change waiting for it)
    gateway_key: str = ""  # its MQTT access key
    thingspro_token: str = ""  # a ThingsPro token of the operator

    @property
    def xyte_a(self) -> XyteDevice:
        assert self.xa is not None
        return self.xa

    @property
    def xyte_b(self) -> XyteDevice:
        assert self.xb is not None
        return self.xb

    @property
    def url(self) -> str:
        return self.stack.url

    def operator(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.operator_token}", **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.url}{path}", headers=headers, timeout=HTTP_TIMEOUT_S, **kwargs
        )

    def basic(self, key: str) -> str:
        return "Basic " + base64.b64encode(self.keys[key].encode()).decode()


def _ok(response: requests.Response, *statuses: int) -> Any:
    assert response.status_code in (statuses or (200,)), f"{response.request.method} {response.url}: " + (
        f"{response.status_code} {response.text}"
    )
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def world(stack: LocalStack, operator_token: str) -> World:
    """One device pair and one seeding for the module: A gets a value in every place a device has data."""
    marker = f"iso{uuid.uuid4().hex[:8]}"
    found: list[str] = []

    def secret(what: str) -> str:
        value = f"{marker}-secret-{what}-{secrets.token_hex(4)}"
        found.append(value)
        return value

    w = World(stack, operator_token, marker, Device("", "", ""), Device("", "", ""), found, {}, {}, {})
    # profiles: A and B pre-provisioned in their own, and one that creates devices on demand
    for name, strategy in (
        ("a", "CHECK_PRE_PROVISIONED_DEVICES"),
        ("b", "CHECK_PRE_PROVISIONED_DEVICES"),
        ("open", "ALLOW_CREATE_NEW_DEVICES"),
    ):
        created = _ok(
            w.operator(
                "POST",
                "/manage/v1/device-profiles",
                json={
                    "name": f"{marker}-{name}",
                    "provisionStrategy": strategy,
                    "provisionDeviceKey": f"{marker}-{name}-key",
                },
            ),
            201,
        )["data"]
        w.profiles[name] = {
            "id": created["id"],
            "key": created["provisionDeviceKey"],
            "secret": created["provisionDeviceSecret"],
        }
    for letter in ("a", "b"):
        data = _ok(
            w.operator(
                "POST",
                "/manage/v1/devices",
                json={"name": f"{marker}-{letter}", "profileId": w.profiles[letter]["id"]},
            ),
            201,
        )["data"]
        setattr(w, letter, Device(data["id"], data["name"], data["credentials"]["accessToken"]))
    a, b = w.a, w.b
    found += [a.id, a.token]

    # ThingDatas keys: A's own, B's, A's without the needed permission, a revoked one of A's
    thing_datas = [
        {"method": "POST", "path": "/api/v1/thing-datas"},
        {"method": "GET", "path": "/api/v1/thing-datas"},
    ]
    for kind, permissions, things in (
        ("a", thing_datas, [a.name]),
        ("b", thing_datas, [b.name]),
        ("a-read-only", thing_datas[1:], [a.name]),
        ("a-write-only", thing_datas[:1], [a.name]),
        ("a-revoked", thing_datas, [a.name]),
    ):
        data = _ok(
            w.operator(
                "POST",
                "/manage/v1/api-keys",
                json={"name": f"{marker}-{kind}", "permissions": permissions, "thingNames": things},
            ),
            201,
        )["data"]
        w.keys[kind] = f"{data['id']}:{data['secret']}"
        w.ids[f"key-{kind}"] = data["id"]
        if kind.startswith("a"):
            found.append(data["secret"])
    _ok(w.operator("DELETE", f"/manage/v1/api-keys/{w.ids['key-a-revoked']}"), 200, 204)

    def tb(method: str, route: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{w.url}/api/v1/{a.token}/{route}", timeout=HTTP_TIMEOUT_S, **kwargs)

    def td(path: str, body: dict[str, Any], **kwargs: Any) -> Any:
        response = requests.post(
            f"{w.url}/api/v1/thing-datas/{path}",
            json=body,
            headers={"Authorization": w.basic("a")},
            timeout=HTTP_TIMEOUT_S,
            **kwargs,
        )
        return _ok(response)

    # telemetry, client and shared attributes, the shadow (default and named), an event
    _ok(tb("POST", "telemetry", json={f"{marker}_temp": secret("telemetry"), f"{marker}_level": 7321}))
    _ok(tb("POST", "attributes", json={f"{marker}_client": secret("client")}))
    _ok(
        w.operator(
            "PUT", f"/manage/v1/devices/{a.id}/attributes/shared", json={f"{marker}_shared": secret("shared")}
        )
    )
    td(
        "shadow/reported",
        {"thingName": a.name, "state": {"reported": {f"{marker}_reported": secret("reported")}}},
    )
    w.ids["shadow-name"] = f"{marker}-cfg"
    td(
        "shadow/reported",
        {"thingName": a.name, "state": {"reported": {"mode": secret("named-shadow")}}},
        params={"name": w.ids["shadow-name"]},
    )
    td(
        "events",
        {
            "thingName": a.name,
            "eventType": "isolation",
            "timestamp": int(time.time() * 1000),
            "data": {"note": secret("event")},
        },
    )

    # RPCs: one delivered to A and awaiting its reply, one still queued
    expires = int(time.time() * 1000) + 4 * 3600 * 1000
    for which in ("delivered", "queued"):
        rpc = _ok(
            w.operator(
                "POST",
                f"/manage/v1/devices/{a.id}/rpc",
                json={
                    "method": f"{marker}Method",
                    "params": {"v": secret(f"rpc-{which}")},
                    "persistent": True,
                    "expirationTime": expires,
                },
            )
        )["data"]
        w.ids[f"rpc-{which}"] = rpc["rpcId"]
        w.ids[f"rpc-{which}-id"] = str(rpc["id"])
        found.append(rpc["rpcId"])
        if which == "delivered":
            delivered = _ok(tb("GET", "rpc", params={"timeout": "5000"}))
            assert delivered["id"] == rpc["id"], delivered

    # a command awaiting A's answer
    command = _ok(
        w.operator(
            "POST",
            f"/manage/v1/devices/{a.id}/commands",
            json={"action": f"{marker}Action", "params": {"v": secret("command")}, "ttl": 4 * 3600},
        ),
        201,
    )["data"]
    w.ids["execution"] = command["executionId"]  # not a secret: the aims send it

    # a job A has started, and a thing group A belongs to
    w.ids["job"] = f"{marker}-job"
    _ok(
        w.operator(
            "POST",
            "/manage/v1/jobs",
            json={
                "jobId": w.ids["job"],
                "document": {"v": secret("job")},
                "targets": {"thingNames": [a.name]},
            },
        ),
        201,
    )
    started = td("jobs/start-next", {"thingName": a.name})
    assert started["execution"]["jobId"] == w.ids["job"], started
    w.ids["group"] = f"{marker}-group"
    _ok(w.operator("POST", "/manage/v1/thing-groups", json={"name": w.ids["group"]}), 201)
    _ok(w.operator("PUT", f"/manage/v1/thing-groups/{w.ids['group']}/things/{a.name}"), 200, 204)

    # firmware and software assigned to A
    for kind in ("FIRMWARE", "SOFTWARE"):
        package = _ok(
            w.operator(
                "POST",
                "/manage/v1/ota-packages",
                json={"type": kind, "title": f"{marker}-{kind.lower()}", "version": "1.0"},
            ),
            201,
        )["data"]
        data = secret(f"{kind.lower()}-bytes").encode()
        _ok(w.operator("PUT", f"/manage/v1/ota-packages/{package['id']}/data", data=data))
        w.ids[kind.lower()] = package["id"]
        w.ids[f"{kind.lower()}-title"] = package["title"]
        found.append(package["id"])
    _ok(
        w.operator(
            "PUT",
            f"/manage/v1/devices/{a.id}/ota",
            json={"firmwareId": w.ids["firmware"], "softwareId": w.ids["software"]},
        )
    )

    # A claimed by the operator
    claim_secret = secret("claim")
    _ok(tb("POST", "claim", json={"secretKey": claim_secret, "durationMs": 600000}))
    _ok(
        w.operator("POST", "/manage/v1/devices/claim", json={"deviceName": a.name, "secretKey": claim_secret})
    )

    seed_xyte(w, secret)
    seed_thingspro(w, secret)

    w.identifiers = [
        w.gateway,
        marker,
        a.id,
        b.id,
        w.xyte_a.id,
        w.xyte_b.id,
        w.xyte_a.model_id,
        w.xyte_b.model_id,
        *(p["id"] for p in w.profiles.values()),
        *(value for name, value in w.ids.items() if not name.endswith("-id")),
    ]
    return w


def seed_thingspro(w: World, secret: Callable[[str], str]) -> None:
    """ThingsPro gateway A, registered with a distinctive label, offline, with a change (a distinctive
    value in its body) waiting for it; and the operator's ThingsPro token."""
    made = _ok(w.operator("POST", "/manage/v1/thingspro/gateways", json={"label": secret("gateway")}), 201)
    w.gateway, w.gateway_key = made["data"]["id"], made["data"]["accessKey"]
    base = f"{w.url}/thingspro/gateways/{w.gateway}/api/v1"
    login = {"name": w.stack.admin_name, "password": w.stack.admin_password}
    w.thingspro_token = _ok(requests.post(f"{base}/auth", json=login, timeout=HTTP_TIMEOUT_S))["data"][
        "token"
    ]
    change = {"enable": True, "targetDiskName": secret("disk")}
    queued = requests.put(
        f"{base}/mqtt/1/store-and-forward",
        json=change,
        headers={"Authorization": f"Bearer {w.thingspro_token}"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert queued.status_code == 202, queued.text


def thingspro_reads(w: World) -> dict[str, str]:
    """ThingsPro gateway A through the operator API: the gateway and its requests."""
    gateway = f"/manage/v1/thingspro/gateways/{w.gateway}"
    return {"thingspro gateway": gateway, "thingspro requests": f"{gateway}/requests"}


def seed_xyte(w: World, secret: Callable[[str], str]) -> None:
    """Xyte A (model A) with a distinctive value in every place a Xyte device has data, a child of A, and
    Xyte B (model B). Ids of A's data go to ``w.ids`` under ``xyte-...``."""
    marker, ids = w.marker, w.ids

    def hub(method: str, path: str, key: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method,
            f"{w.url}/v1/devices/{path}",
            headers={"Authorization": key},
            timeout=HTTP_TIMEOUT_S,
            **kwargs,
        )

    devices = {}
    for letter, octet in (("a", "0a"), ("b", "0b")):
        model = _ok(
            w.operator(
                "POST",
                "/manage/v1/xyte/models",
                json={"name": f"{marker} projector {letter}", "api_version": "1.0.7", "vendor": marker},
            ),
            201,
        )["data"]
        cloud_id, mac, sn = (
            f"{marker}-cloud-{letter}",
            f"02:00:{marker[3:5]}:{marker[5:7]}:{octet}:01",
            f"sn-{letter}",
        )
        registered = _ok(
            requests.post(
                f"{w.url}/v1/devices",
                json={
                    "hardware_key": model["hardware_key"],
                    "cloud_id": cloud_id,
                    "mac": mac,
                    "sn": sn,
                    "firmware_version": "1.0.0",
                    "name": f"{marker}-xyte-{letter}",
                },
                timeout=HTTP_TIMEOUT_S,
            ),
            201,
        )
        devices[letter] = XyteDevice(
            registered["id"], registered["access_key"], model["id"], model["hardware_key"], cloud_id, mac, sn
        )
    w.xa, w.xb = devices["a"], devices["b"]
    xa = w.xyte_a
    w.secrets.extend([xa.key, xa.hardware_key])
    ids["xyte-model"] = xa.model_id

    # A's child, with its own key
    child = _ok(
        hub(
            "POST",
            f"{xa.id}/children",
            xa.key,
            json={"sn": f"{marker}-child", "model_id": xa.model_id, "firmware_version": "1.0.0"},
        ),
        201,
    )
    w.xchild = XyteDevice(child["id"], child["access_key"], xa.model_id, "", "", "", f"{marker}-child")
    w.secrets.append(child["access_key"])

    # telemetry with a status and a message, Update Device, a cloud setting, an event, an incident
    _ok(
        hub(
            "POST",
            f"{xa.id}/telemetry",
            xa.key,
            json={
                "status": "online",
                "message": secret("xyte-status"),
                "telemetries": {f"{marker}_lamp": secret("xyte-telemetry"), f"{marker}_hours": 4211},
            },
        )
    )
    _ok(hub("PUT", xa.id, xa.key, json={"details": {"room": secret("xyte-details")}}))
    _ok(
        hub(
            "PUT",
            f"{xa.id}/cloud_settings",
            xa.key,
            json={"property": "incidents.suspend_creation", "value": False},
        )
    )
    _ok(
        hub(
            "POST",
            f"{xa.id}/events",
            xa.key,
            json={"name": "isolation", "string_key_1": secret("xyte-event")},
        ),
        201,
    )
    incident = _ok(
        hub("POST", f"{xa.id}/incidents", xa.key, json={"title": secret("xyte-incident"), "priority": 2}), 201
    )
    ids["xyte-incident"] = incident["id"]

    # the operator's config, space info, a command and a license
    _ok(
        w.operator(
            "PUT",
            f"/manage/v1/xyte/devices/{xa.id}/config",
            json={"config": {f"{marker}_brightness": secret("xyte-config")}, "name": f"{marker}-cfg"},
        )
    )
    _ok(
        w.operator(
            "PUT",
            f"/manage/v1/xyte/devices/{xa.id}/space",
            json={
                "location": {
                    "coordinates": {"lat": 47.5, "lng": 8.5},
                    "utc_offset": 60,
                    "name": secret("xyte-space"),
                }
            },
        )
    )
    command = _ok(
        w.operator(
            "POST",
            f"/manage/v1/xyte/devices/{xa.id}/commands",
            json={"name": f"{marker}_calibrate", "parameters": {"v": secret("xyte-command")}},
        ),
        201,
    )["data"]
    ids["xyte-command"] = command["id"]
    license_ = _ok(
        w.operator(
            "POST",
            f"/manage/v1/xyte/devices/{xa.id}/licenses",
            json={"data": {"seats": secret("xyte-license")}, "signature": secret("xyte-signature")},
        ),
        201,
    )["data"]
    ids["xyte-license"] = license_["id"]

    # a dump A sent (with an append), and a file of A's model, uploaded
    dump = _ok(
        hub("POST", f"{xa.id}/dumps/text%2Fplain/{marker}.log", xa.key, data=secret("xyte-dump").encode()),
        201,
    )
    _ok(hub("PUT", f"{xa.id}/dumps/{dump['id']}", xa.key, data=secret("xyte-dump-append").encode()))
    ids["xyte-dump"] = dump["id"]
    file = _ok(
        w.operator(
            "POST",
            f"/manage/v1/xyte/models/{xa.model_id}/files",
            json={"name": secret("xyte-file"), "file_type": "firmware", "version": "1.0.1"},
        ),
        201,
    )["data"]
    uploaded = requests.put(
        file["upload_url"], data=secret("xyte-file-bytes").encode(), timeout=HTTP_TIMEOUT_S
    )
    assert uploaded.status_code == 200, uploaded.text
    ids["xyte-file"] = file["id"]
    _ok(w.operator("POST", f"/manage/v1/xyte/models/{xa.model_id}/files/{file['id']}/latest"))
    assert _ok(hub("GET", f"{xa.id}/files/{file['id']}", xa.key))["id"] == file["id"]


# =========================================================================== what "nothing changed" means
def stored_items(w: World, identifiers: list[str] | None = None) -> list[str]:
    """Every stored item of the stack that mentions one of ``identifiers`` (by default every identifier
    of this module): the items of each DynamoDB table and the objects (every version) of each bucket, as
    sorted canonical text. moto's server runs in the test process, so its backends are read directly: a
    scan per table over HTTP would cost more than the request under test."""
    identifiers = w.identifiers if identifiers is None else identifiers
    found = []
    for name, table in dynamodb_backends[DEFAULT_ACCOUNT_ID][w.stack.region].tables.items():
        for item in table.all_items():
            text = json.dumps(item.to_json(), sort_keys=True)
            if any(identifier in text for identifier in identifiers):
                found.append(f"{name}: {text}")
    for name, bucket in s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets.items():
        for key, versions in bucket.keys.iterlists():
            if any(identifier in key for identifier in identifiers):
                found += [f"s3 {name}: {key} {v.version_id} {v.etag}" for v in versions]
    return sorted(found)


def xyte_reads(w: World) -> dict[str, str]:
    """Xyte A's every area through the operator API."""
    xa, ids = w.xyte_a, w.ids
    device, model = f"/manage/v1/xyte/devices/{xa.id}", f"/manage/v1/xyte/models/{xa.model_id}"
    return {
        "xyte registry device": f"/manage/v1/devices/{xa.id}",
        "xyte telemetry": f"/manage/v1/devices/{xa.id}/telemetry",
        "xyte telemetry/latest": f"/manage/v1/devices/{xa.id}/telemetry/latest",
        "xyte shadow": f"/manage/v1/devices/{xa.id}/shadow",
        "xyte events": f"/manage/v1/devices/{xa.id}/events?limit=100",
        "xyte device": device,
        "xyte space": f"{device}/space",
        "xyte cloud settings": f"{device}/cloud-settings",
        "xyte open incidents": f"{device}/incidents",
        "xyte closed incidents": f"{device}/incidents?status=closed",
        "xyte config": f"{device}/config",
        "xyte config versions": f"{device}/config/versions",
        "xyte commands": f"{device}/commands",
        "xyte command": f"{device}/commands/{ids['xyte-command']}",
        "xyte licenses": f"{device}/licenses",
        "xyte license": f"{device}/licenses/{ids['xyte-license']}",
        "xyte dumps": f"{device}/dumps",
        "xyte dump": f"{device}/dumps/{ids['xyte-dump']}",
        "xyte model": model,
        "xyte files": f"{model}/files",
        "xyte file": f"{model}/files/{ids['xyte-file']}",
        "xyte child": f"/manage/v1/xyte/devices/{w.xchild.id if w.xchild else ''}",
    }


def _without_signed_urls(value: Any) -> Any:
    """``value`` with presigned URLs cut at their query and their expiry removed (signed afresh on every
    read), and the answer's own time (space info's ``local_time``) removed."""
    if isinstance(value, dict):
        volatile = {"local_time", "expires_at"} if "url" in value else {"local_time"}
        return {k: _without_signed_urls(v) for k, v in value.items() if k not in volatile}
    if isinstance(value, list):
        return [_without_signed_urls(v) for v in value]
    if isinstance(value, str) and value.startswith("http") and "X-Amz-Signature" in value:
        return value.split("?", 1)[0]
    return value


def device_state(w: World) -> dict[str, Any]:
    """Device A as the operator API shows it, every area, plus whether A's own token still reads A."""
    a, ids = w.a, w.ids
    reads = {
        "device": f"/manage/v1/devices/{a.id}",
        "telemetry": f"/manage/v1/devices/{a.id}/telemetry",
        "telemetry/latest": f"/manage/v1/devices/{a.id}/telemetry/latest",
        "attributes": f"/manage/v1/devices/{a.id}/attributes",
        "shadow": f"/manage/v1/devices/{a.id}/shadow",
        "named shadow": f"/manage/v1/devices/{a.id}/shadow?name={ids['shadow-name']}",
        "shadows": f"/manage/v1/devices/{a.id}/shadows",
        "shadow history": f"/manage/v1/devices/{a.id}/shadow/history",
        "rpc": f"/manage/v1/devices/{a.id}/rpc",
        "commands": f"/manage/v1/devices/{a.id}/commands",
        "events": f"/manage/v1/devices/{a.id}/events?limit=100",
        "ota": f"/manage/v1/devices/{a.id}/ota",
        "job": f"/manage/v1/jobs/{ids['job']}",
        "job executions": f"/manage/v1/jobs/{ids['job']}/executions",
        "group members": f"/manage/v1/thing-groups/{ids['group']}/things",
        "profile devices": f"/manage/v1/device-profiles/{w.profiles['a']['id']}/devices",
        **xyte_reads(w),
        **thingspro_reads(w),
    }
    state: dict[str, Any] = {}
    for name, path in reads.items():
        response = w.operator("GET", path)
        body = response.json()
        if name.endswith("shadow") and isinstance(body.get("data"), dict):
            body["data"].pop("timestamp", None)  # AWS's document: the time of the answer, not of the shadow
        state[name] = (response.status_code, _without_signed_urls(body))
    own = requests.get(f"{w.url}/api/v1/{a.token}/attributes", timeout=HTTP_TIMEOUT_S)
    state["A's token reads A"] = (own.status_code, own.json() if own.content else None)
    xa = w.xyte_a
    for name, path in (
        ("A's key reads Xyte A", xa.id),
        ("A's child's key reads the child", w.xchild.id if w.xchild else ""),
    ):
        key = xa.key if path == xa.id else (w.xchild.key if w.xchild else "")
        read = requests.get(
            f"{w.url}/v1/devices/{path}", headers={"Authorization": key}, timeout=HTTP_TIMEOUT_S
        )
        state[name] = (read.status_code, read.json() if read.content else None)
    return state


def leaked(w: World, response: requests.Response) -> list[str]:
    """A's distinctive values found in an answer (its body or its headers)."""
    seen = response.content.decode("utf-8", "replace") + json.dumps(dict(response.headers))
    return [value for value in w.secrets if value in seen]


# =========================================================================== 1. /manage without a valid JWT
def _issuer(stack: LocalStack) -> str:
    return f"https://cognito-idp.{stack.region}.amazonaws.com/{stack.provisioned.physical_ids['OperatorUserPool']}"


def _operator_claims(stack: LocalStack, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": _issuer(stack),
        "sub": "5f1d7c9e-0000-4000-8000-0000000000aa",
        "aud": stack.provisioned.physical_ids["OperatorUserPoolClient"],
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
        "cognito:username": stack.admin_name,
    }
    return claims | changes


@functools.cache
def _signing_key(which: str) -> RSAKey:
    """The key moto signs its user pools' tokens with (``"moto"``), or one of nobody's (``"other"``)."""
    if which == "moto":
        return RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    return RSAKey.generate_key(2048)


def _jwt(claims: dict[str, Any], key: str = "moto") -> str:
    return jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, _signing_key(key))


BAD_OPERATOR_CREDENTIALS: dict[str, Callable[[World], str | None]] = {
    "no Authorization": lambda w: None,
    "Bearer garbage": lambda w: "Bearer garbage",
    "JWT signed by another key": lambda w: f"Bearer {_jwt(_operator_claims(w.stack), 'other')}",
    "expired JWT": lambda w: f"Bearer {_jwt(_operator_claims(w.stack, exp=int(time.time()) - 60))}",
    "Basic with the operator's password": lambda w: (
        "Basic " + base64.b64encode(f"{w.stack.admin_name}:{w.stack.admin_password}".encode()).decode()
    ),
    "device access token as Bearer": lambda w: f"Bearer {w.a.token}",
    "ThingDatas API key": lambda w: w.basic("a"),
}

# A value for every path parameter of the operator routes, by the segment that precedes it
OPERATOR_PATH_VALUES: dict[tuple[str, str], Callable[[World], str]] = {
    ("devices", "id"): lambda w: w.a.id,
    ("device-profiles", "id"): lambda w: w.profiles["a"]["id"],
    ("ota-packages", "id"): lambda w: w.ids["firmware"],
    ("rpc", "rpcId"): lambda w: w.ids["rpc-queued"],
    ("commands", "executionId"): lambda w: w.ids["execution"],
    ("api-keys", "keyId"): lambda w: w.ids["key-a"],
    ("thing-groups", "groupName"): lambda w: w.ids["group"],
    ("things", "thingName"): lambda w: w.b.name,
    ("jobs", "jobId"): lambda w: w.ids["job"],
    # the Xyte routes (``xyte/`` before the segment): Xyte A, its model and its data
    ("xyte/devices", "id"): lambda w: w.xyte_a.id,
    ("xyte/models", "id"): lambda w: w.xyte_a.model_id,
    ("xyte/models", "modelId"): lambda w: w.xyte_a.model_id,
    ("xyte/files", "fileId"): lambda w: w.ids["xyte-file"],
    ("xyte/commands", "commandId"): lambda w: w.ids["xyte-command"],
    ("xyte/licenses", "licenseId"): lambda w: w.ids["xyte-license"],
    ("xyte/dumps", "dumpId"): lambda w: w.ids["xyte-dump"],
    ("xyte/incidents", "incidentId"): lambda w: w.ids["xyte-incident"],
    # ThingsPro: gateway A and its waiting request
    ("gateways", "id"): lambda w: w.gateway,
    ("requests", "requestId"): lambda w: "1",
}


def operator_body(w: World, route_key: str) -> dict[str, Any]:
    """A body the route would act on with a valid JWT: every name carries the module's marker, so
    whatever it would create is among the stored items compared."""
    m = w.marker
    bodies: dict[str, Any] = {
        "POST /manage/v1/devices": {"name": f"{m}-created"},
        "POST /manage/v1/devices/claim": {"deviceName": w.b.name, "secretKey": m},
        "POST /manage/v1/device-profiles": {"name": f"{m}-created", "provisionStrategy": "DISABLED"},
        "PATCH /manage/v1/device-profiles/{id}": {"provisionStrategy": "DISABLED"},
        "POST /manage/v1/api-keys": {
            "name": f"{m}-created",
            "permissions": [{"method": "*", "path": "/api/v1/thing-datas"}],
        },
        "POST /manage/v1/thing-groups": {"name": f"{m}-created"},
        "POST /manage/v1/jobs": {
            "jobId": f"{m}-created",
            "document": {"v": m},
            "targets": {"thingNames": [w.a.name]},
        },
        "POST /manage/v1/ota-packages": {"type": "FIRMWARE", "title": f"{m}-created", "version": "1"},
        "PUT /manage/v1/devices/{id}/ota": {"firmwareId": None, "softwareId": None},
        "PUT /manage/v1/device-profiles/{id}/ota": {"firmwareId": w.ids["firmware"]},
        "POST /manage/v1/devices/{id}/rpc": {"method": f"{m}Created", "persistent": True},
        "POST /manage/v1/devices/{id}/commands": {"action": f"{m}Created"},
        "PUT /manage/v1/devices/{id}/attributes/shared": {f"{m}_created": m},
        "PATCH /manage/v1/devices/{id}/shadow": {"state": {"desired": {f"{m}_created": m}}},
        "POST /manage/v1/jobs/{jobId}/cancel": {"force": True},
        "POST /manage/v1/xyte/models": {"name": f"{m} created", "api_version": "1.0.0"},
        "PATCH /manage/v1/xyte/models/{id}": {"api_version": "1.0.0", "latest_fw_version": None},
        "POST /manage/v1/xyte/models/{modelId}/files": {
            "name": f"{m} created",
            "file_type": "firmware",
            "version": "9.9.9",
        },
        "PUT /manage/v1/xyte/devices/{id}/space": {"name": f"{m} created", "maintenance": True},
        "PUT /manage/v1/xyte/devices/{id}/config": {"config": {f"{m}_created": m}},
        "POST /manage/v1/xyte/devices/{id}/commands": {"name": "reboot"},
        "POST /manage/v1/xyte/devices/{id}/licenses": {"data": m, "signature": m},
        "PUT /manage/v1/xyte/devices/{id}/licenses/{licenseId}": {"data": m, "signature": m},
    }
    return dict(bodies.get(route_key, {}))


def operator_path(w: World, route_key: str) -> str:
    method, path = route_key.split(" ", 1)
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if segment.startswith("{") and segment.endswith("}"):
            name = segment.strip("{}+")
            before = segments[index - 1]
            fill = OPERATOR_PATH_VALUES.get((f"xyte/{before}", name)) if "xyte" in segments else None
            fill = fill or OPERATOR_PATH_VALUES.get((before, name))
            if fill is None:
                pytest.fail(f"{route_key}: no value for {{{name}}} in OPERATOR_PATH_VALUES (add a real one)")
            segments[index] = quote(fill(w), safe="")
    query = "?keys=" + w.marker if method == "DELETE" and path.endswith("/attributes/shared") else ""
    return "/".join(segments) + query


@pytest.mark.parametrize("credential", list(BAD_OPERATOR_CREDENTIALS))
@pytest.mark.parametrize("route_key", OPERATOR_ROUTES)
def test_an_operator_route_refuses_a_bad_credential_and_changes_nothing(
    world: World, route_key: str, credential: str
) -> None:
    # Given the route aimed at real data (device A, its RPCs, its job...) and the stored items before
    method = route_key.split(" ", 1)[0]
    path = operator_path(world, route_key)
    authorization = BAD_OPERATOR_CREDENTIALS[credential](world)
    headers = {} if authorization is None else {"Authorization": authorization}
    before = stored_items(world)

    # When it is called with the bad credential
    if route_key.endswith("/data"):
        response = requests.request(
            method, f"{world.url}{path}", data=world.marker.encode(), headers=headers, timeout=HTTP_TIMEOUT_S
        )
    else:
        body = operator_body(world, route_key) if method in ("POST", "PUT", "PATCH") else None
        response = requests.request(
            method, f"{world.url}{path}", json=body, headers=headers, timeout=HTTP_TIMEOUT_S
        )

    # Then API Gateway's authorizer answers 401, and nothing of this module's data changed
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert leaked(world, response) == []
    assert stored_items(world) == before


def test_the_operator_matrix_covers_every_operator_route_of_the_template() -> None:
    # The operator routes are the template's, and each one needs the JWT authorizer
    declared = {r.route_key: r.authorizer for r in TEMPLATE_ROUTES if r.path.startswith("/manage/")}
    assert LOGIN in declared and declared[LOGIN] is None
    assert sorted(key for key in declared if key != LOGIN) == OPERATOR_ROUTES
    assert {declared[key] for key in OPERATOR_ROUTES} == {"OperatorJwt"}


def test_the_stored_items_compared_would_show_what_a_valid_jwt_writes(world: World) -> None:
    # The control for the refusals above: the same kind of request, with the operator's JWT, is seen
    before = stored_items(world)
    created = world.operator("POST", "/manage/v1/devices", json={"name": f"{world.marker}-control"})
    assert created.status_code == 201, created.text
    assert stored_items(world) != before
    deleted = world.operator("DELETE", f"/manage/v1/devices/{created.json()['data']['id']}")
    assert deleted.status_code == 204, deleted.text


@pytest.mark.parametrize("key", ["moto", "other"])
def test_the_forged_and_expired_jwts_differ_from_a_valid_one_only_where_they_say(
    world: World, key: str
) -> None:
    # The control for "signed by another key" and "expired": the same claims, signed by the pool's key and
    # not expired, pass the authorizer; signed by another key they do not
    token = _jwt(_operator_claims(world.stack), key)
    response = requests.get(
        f"{world.url}/manage/v1/devices/{world.a.id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert (response.status_code == 200) is (key == "moto"), response.text


# ====================================================================== 2. device routes, device by device
@dataclass(frozen=True)
class Call:
    """A device request; ``{token}`` in the path is where a ThingsBoard credential goes."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None  # a raw body (Xyte's dumps), instead of ``json``


@dataclass(frozen=True)
class Expect:
    """The dialect's answer: its status, and its exact body (``body``), ThingDatas' error ``code`` or
    Xyte's (``xyte``: the body is exactly ``{"error", "code"}``), or ThingsPro's envelope (``thingspro``:
    the body is exactly ``{"error": {"code": <that>, "message"}}``)."""

    status: int
    body: bytes | None = None
    code: str | None = None
    xyte: str | None = None
    thingspro: int | None = None


@dataclass(frozen=True)
class Aim:
    """A device route aimed at A's data. ``scheme`` names how its dialect carries credentials;
    ``own_answer`` is what a credential that names a device of its own (ThingsBoard's token in the path)
    gets here: that device's answer, never A's."""

    scheme: str
    call: Callable[[World], Call]
    own_answer: Expect | None = None
    bulk: bool = False  # Xyte's bulk registration: 201, and the refusal is the one entry's


@dataclass(frozen=True)
class Kind:
    """A credential kind of a scheme: how it goes into a request, and the answer it must get (None: the
    route's ``own_answer``)."""

    scheme: str
    name: str
    apply: Callable[[World, Call], Call]
    expect: Expect | None


TB, PROVISION, TD = "thingsboard access token", "thingsboard provision key", "thingdatas api key"
EMPTY_200, EMPTY_404, EMPTY_408 = Expect(200, b""), Expect(404, b""), Expect(408, b"")
TD_UNAUTHORIZED, TD_FORBIDDEN = Expect(401, code="Unauthorized"), Expect(403, code="Forbidden")
TD_NOT_FOUND = Expect(404, code="ResourceNotFound")


def _td(path: str, **body: Any) -> Callable[[World], Call]:
    """A ThingDatas POST naming thing A (``{job}``, ``{execution}`` filled with A's job and command)."""

    def call(w: World) -> Call:
        fill = {"job": w.ids["job"], "execution": w.ids["execution"]}
        filled = {k: v.format(**fill) if isinstance(v, str) else v for k, v in body.items()}
        return Call(
            "POST", f"/api/v1/thing-datas/{path.format(**fill)}", json={"thingName": w.a.name, **filled}
        )

    return call


DEVICE_ROUTES: dict[str, Aim] = {
    "POST /api/v1/{token}/telemetry": Aim(
        TB,
        lambda w: Call("POST", "/api/v1/{token}/telemetry", json={f"{w.marker}_temp": "from B"}),
        EMPTY_200,
    ),
    "POST /api/v1/{token}/attributes": Aim(
        TB,
        lambda w: Call("POST", "/api/v1/{token}/attributes", json={f"{w.marker}_client": "from B"}),
        EMPTY_200,
    ),
    "GET /api/v1/{token}/attributes": Aim(
        TB,
        lambda w: Call(
            "GET",
            "/api/v1/{token}/attributes",
            params={"clientKeys": f"{w.marker}_client", "sharedKeys": f"{w.marker}_shared"},
        ),
        Expect(200, b"{}"),
    ),
    "GET /api/v1/{token}/attributes/updates": Aim(
        TB, lambda w: Call("GET", "/api/v1/{token}/attributes/updates", params={"timeout": "1"}), EMPTY_408
    ),
    "GET /api/v1/{token}/rpc": Aim(
        TB, lambda w: Call("GET", "/api/v1/{token}/rpc", params={"timeout": "1"}), EMPTY_408
    ),
    "POST /api/v1/{token}/rpc/{requestId}": Aim(
        TB,
        lambda w: Call(
            "POST", f"/api/v1/{{token}}/rpc/{w.ids['rpc-delivered-id']}", json={"result": "from B"}
        ),
        EMPTY_200,
    ),
    "POST /api/v1/{token}/rpc": Aim(
        TB,
        lambda w: Call("POST", "/api/v1/{token}/rpc", json={"method": "readAnotherDevice", "params": {}}),
        Expect(404, b'{"error":"Unknown RPC method \'readAnotherDevice\'"}'),
    ),
    "GET /api/v1/{token}/firmware": Aim(
        TB,
        lambda w: Call(
            "GET", "/api/v1/{token}/firmware", params={"title": w.ids["firmware-title"], "version": "1.0"}
        ),
        EMPTY_404,
    ),
    "GET /api/v1/{token}/software": Aim(
        TB,
        lambda w: Call(
            "GET", "/api/v1/{token}/software", params={"title": w.ids["software-title"], "version": "1.0"}
        ),
        EMPTY_404,
    ),
    "POST /api/v1/{token}/claim": Aim(
        TB,
        lambda w: Call("POST", "/api/v1/{token}/claim", json={"secretKey": "from B", "durationMs": 60000}),
        EMPTY_200,
    ),
    "POST /api/v1/provision": Aim(
        PROVISION, lambda w: Call("POST", "/api/v1/provision", json={"deviceName": w.a.name})
    ),
    "POST /api/v1/thing-datas/shadow/reported": Aim(
        TD, _td("shadow/reported", state={"reported": {"mode": "from B"}}), Expect(200)
    ),
    "GET /api/v1/thing-datas/{thingName}/shadow": Aim(
        TD, lambda w: Call("GET", f"/api/v1/thing-datas/{w.a.name}/shadow"), Expect(200)
    ),
    "POST /api/v1/thing-datas/events": Aim(
        TD, _td("events", eventType="fromB", timestamp=1748390400000, data={"v": "from B"}), Expect(200)
    ),
    "POST /api/v1/thing-datas/command/response": Aim(
        TD,
        _td("command/response", executionId="{execution}", status="SUCCEEDED", result={"v": "from B"}),
        TD_NOT_FOUND,
    ),
    "POST /api/v1/thing-datas/jobs/get": Aim(TD, _td("jobs/get"), Expect(200)),
    "POST /api/v1/thing-datas/jobs/start-next": Aim(TD, _td("jobs/start-next"), Expect(200)),
    "POST /api/v1/thing-datas/jobs/{jobId}/get": Aim(TD, _td("jobs/{job}/get"), TD_NOT_FOUND),
    "POST /api/v1/thing-datas/jobs/{jobId}/update": Aim(
        TD, _td("jobs/{job}/update", status="SUCCEEDED", includeJobDocument=True), TD_NOT_FOUND
    ),
}


XYTE, XYTE_IDS, XYTE_REGISTER = "xyte access key", "xyte access key, A's ids", "xyte hardware key"
XYTE_NOT_FOUND = Expect(404, xyte="NotFound")


def _x(method: str, path: str, **kwargs: Any) -> Callable[[World], Call]:
    """A Xyte hub request on ``/v1/devices/{device_id}...`` (the kind fills ``{device_id}``); ``{command}``,
    ``{license}``, ``{dump}``, ``{file}``, ``{incident}`` and ``{child}`` are A's."""

    def call(w: World) -> Call:
        fill = {
            "command": w.ids["xyte-command"],
            "license": w.ids["xyte-license"],
            "dump": w.ids["xyte-dump"],
            "file": w.ids["xyte-file"],
            "incident": w.ids["xyte-incident"],
            "child": w.xchild.id if w.xchild else "",
            "model": w.xyte_a.model_id,
            "marker": w.marker,
        }

        def filled(value: Any) -> Any:
            if isinstance(value, str):
                return value.format(**fill)
            if isinstance(value, dict):
                return {filled(k): filled(v) for k, v in value.items()}
            return value

        body = {k: filled(v) for k, v in kwargs.items()}
        return Call(method, "/v1/devices/{device_id}" + path.format(**fill), **body)

    return call


def _registration(w: World) -> Call:
    """A registration naming Xyte A's whole identity (Cloud ID, MAC and serial number)."""
    xa = w.xyte_a
    body = {
        "cloud_id": xa.cloud_id,
        "mac": xa.mac,
        "sn": xa.sn,
        "firmware_version": "1.0.0",
        "name": "from B",
    }
    return Call("POST", "/v1/devices", json=body)


DEVICE_ROUTES.update(
    {
        "POST /v1/devices": Aim(XYTE_REGISTER, _registration),
        "POST /v1/devices/bulk_create": Aim(
            XYTE_REGISTER, lambda w: replace(_registration(w), path="/v1/devices/bulk_create"), bulk=True
        ),
        "POST /v1/devices/{device_id}/children": Aim(
            XYTE,
            _x(
                "POST", "/children", json={"sn": "from-b", "model_id": "{model}", "firmware_version": "1.0.0"}
            ),
        ),
        "GET /v1/devices/{device_id}": Aim(XYTE, _x("GET", "")),
        "PUT /v1/devices/{device_id}": Aim(XYTE, _x("PUT", "", json={"name": "from B", "details": {}})),
        "DELETE /v1/devices/{device_id}": Aim(XYTE, _x("DELETE", "")),
        "GET /v1/devices/{device_id}/children": Aim(XYTE, _x("GET", "/children")),
        "POST /v1/devices/{device_id}/telemetry": Aim(
            XYTE,
            _x("POST", "/telemetry", json={"status": "error", "telemetries": {"{marker}_lamp": "from B"}}),
        ),
        "POST /v1/devices/{device_id}/children/telemetries": Aim(
            XYTE,
            _x(
                "POST",
                "/children/telemetries",
                json={"{child}": {"access_token": "from B", "telemetries": {"v": 1}}},
            ),
        ),
        "GET /v1/devices/{device_id}/space": Aim(XYTE, _x("GET", "/space")),
        "PUT /v1/devices/{device_id}/cloud_settings": Aim(
            XYTE, _x("PUT", "/cloud_settings", json={"property": "incidents.suspend_creation", "value": True})
        ),
        "POST /v1/devices/{device_id}/events": Aim(XYTE, _x("POST", "/events", json={"name": "fromB"})),
        "GET /v1/devices/{device_id}/incidents": Aim(XYTE, _x("GET", "/incidents")),
        "POST /v1/devices/{device_id}/incidents": Aim(
            XYTE, _x("POST", "/incidents", json={"title": "from B"})
        ),
        "DELETE /v1/devices/{device_id}/incidents": Aim(XYTE, _x("DELETE", "/incidents")),
        "DELETE /v1/devices/{device_id}/incidents/{incident_id}": Aim(
            XYTE_IDS, _x("DELETE", "/incidents/{incident}"), XYTE_NOT_FOUND
        ),
        "GET /v1/devices/{device_id}/config": Aim(XYTE, _x("GET", "/config")),
        "POST /v1/devices/{device_id}/config": Aim(
            XYTE, _x("POST", "/config", json={"config": {"{marker}_brightness": "from B"}, "version": 99})
        ),
        "GET /v1/devices/{device_id}/command": Aim(XYTE, _x("GET", "/command")),
        "POST /v1/devices/{device_id}/command": Aim(
            XYTE_IDS, _x("POST", "/command", json={"id": "{command}", "status": "done"}), XYTE_NOT_FOUND
        ),
        "GET /v1/devices/{device_id}/command/pending_commands": Aim(
            XYTE, _x("GET", "/command/pending_commands")
        ),
        "GET /v1/devices/{device_id}/license": Aim(XYTE, _x("GET", "/license")),
        "GET /v1/devices/{device_id}/licenses": Aim(XYTE, _x("GET", "/licenses")),
        "POST /v1/devices/{device_id}/licenses": Aim(
            XYTE_IDS, _x("POST", "/licenses", json={"id": "{license}", "state": "inuse"}), XYTE_NOT_FOUND
        ),
        "GET /v1/devices/{device_id}/files": Aim(XYTE, _x("GET", "/files")),
        "GET /v1/devices/{device_id}/files/{file_id}": Aim(
            XYTE_IDS, _x("GET", "/files/{file}"), XYTE_NOT_FOUND
        ),
        "POST /v1/devices/{device_id}/dumps/{dump_path+}": Aim(
            XYTE, _x("POST", "/dumps/text%2Fplain/from-b.log", data=b"from B")
        ),
        "PUT /v1/devices/{device_id}/dumps/{dump_id}": Aim(
            XYTE_IDS, _x("PUT", "/dumps/{dump}", data=b"from B"), XYTE_NOT_FOUND
        ),
    }
)


def _token(value: Callable[[World], str]) -> Callable[[World, Call], Call]:
    return lambda w, call: replace(call, path=call.path.replace("{token}", value(w)))


def _provision_key(key: Callable[[World], tuple[str, str]]) -> Callable[[World, Call], Call]:
    def apply(w: World, call: Call) -> Call:
        provision_key, provision_secret = key(w)
        return replace(
            call,
            json={
                **call.json,
                "provisionDeviceKey": provision_key,
                "provisionDeviceSecret": provision_secret,
            },
        )

    return apply


def _authorization(value: Callable[[World, Call], str | None]) -> Callable[[World, Call], Call]:
    def apply(w: World, call: Call) -> Call:
        header = value(w, call)
        return call if header is None else replace(call, headers={**call.headers, "Authorization": header})

    return apply


def _as_thing_b(w: World, call: Call) -> Call:
    """B's own key, naming B where the call named A; A's job and execution ids stay."""
    body = None if call.json is None else {**call.json, "thingName": w.b.name}
    path = call.path.replace(f"/{w.a.name}/", f"/{w.b.name}/")
    return replace(call, path=path, json=body, headers={**call.headers, "Authorization": w.basic("b")})


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


PROVISION_FAILURE = b'{"errorMsg":"Failed to provision device!","status":"FAILURE"}'
PROVISION_NOT_FOUND = b'{"errorMsg":"Provision data was not found!","status":"NOT_FOUND"}'

CREDENTIAL_KINDS: list[Kind] = [
    # ThingsBoard: the access token in the path names the device
    Kind(TB, "B's access token", _token(lambda w: w.b.token), None),
    Kind(TB, "unknown access token", _token(lambda w: secrets.token_urlsafe(15)), Expect(401, b"")),
    Kind(TB, "empty access token", _token(lambda w: ""), Expect(404, b'{"message":"Not Found"}')),
    Kind(
        TB,
        "malformed access token",
        _token(lambda w: quote(f"../{w.a.token}\x00", safe="")),
        Expect(401, b""),
    ),
    Kind(TB, "ThingDatas API key as token", _token(lambda w: quote(w.keys["a"], safe="")), Expect(401, b"")),
    # ThingsBoard provisioning: a profile's key and secret in the body, A's name asked for
    Kind(
        PROVISION,
        "key of B's profile",
        _provision_key(lambda w: (w.profiles["b"]["key"], w.profiles["b"]["secret"])),
        Expect(200, PROVISION_FAILURE),
    ),
    Kind(
        PROVISION,
        "key of a profile creating devices",
        _provision_key(lambda w: (w.profiles["open"]["key"], w.profiles["open"]["secret"])),
        Expect(200, PROVISION_FAILURE),
    ),
    Kind(
        PROVISION,
        "A's profile key with a wrong secret",
        _provision_key(lambda w: (w.profiles["a"]["key"], "wrong-secret")),
        Expect(200, PROVISION_NOT_FOUND),
    ),
    Kind(
        PROVISION,
        "unknown provision key",
        _provision_key(lambda w: (f"{w.marker}-unknown", w.profiles["a"]["secret"])),
        Expect(200, PROVISION_NOT_FOUND),
    ),
    # ThingDatas: a deployment API key in Basic authentication, thing A named in the path or the body
    Kind(TD, "key limited to thing B", _authorization(lambda w, c: w.basic("b")), TD_FORBIDDEN),
    Kind(TD, "B's key naming thing B, A's ids kept", _as_thing_b, None),
    Kind(
        TD,
        "A's key without the route's permission",
        _authorization(lambda w, c: w.basic("a-write-only" if c.method == "GET" else "a-read-only")),
        TD_FORBIDDEN,
    ),
    Kind(TD, "A's revoked key", _authorization(lambda w, c: w.basic("a-revoked")), TD_UNAUTHORIZED),
    Kind(
        TD,
        "A's key with a wrong secret",
        _authorization(lambda w, c: _basic(w.ids["key-a"], "wrong-secret")),
        TD_UNAUTHORIZED,
    ),
    Kind(
        TD,
        "unknown key",
        _authorization(lambda w, c: _basic("ak_" + secrets.token_urlsafe(12), "secret")),
        TD_UNAUTHORIZED,
    ),
    Kind(TD, "no credentials", _authorization(lambda w, c: None), TD_UNAUTHORIZED),
    Kind(
        TD,
        "A's ThingsBoard access token",
        _authorization(lambda w, c: f"Bearer {w.a.token}"),
        TD_UNAUTHORIZED,
    ),
    Kind(TD, "operator JWT", _authorization(lambda w, c: f"Bearer {w.operator_token}"), TD_UNAUTHORIZED),
]


def _xyte_key(
    value: Callable[[World], str | None], device: Callable[[World], str] = lambda w: w.xyte_a.id
) -> Callable[[World, Call], Call]:
    """``Authorization: <value>`` (none when None) on the path of ``device`` (Xyte A unless told)."""

    def apply(w: World, call: Call) -> Call:
        header = value(w)
        headers = call.headers if header is None else {**call.headers, "Authorization": header}
        return replace(call, path=call.path.replace("{device_id}", device(w)), headers=headers)

    return apply


def _hardware_key(
    value: Callable[[World], str | None], **identity: Callable[[World], str]
) -> Callable[[World, Call], Call]:
    """A registration with ``value`` as ``hardware_key`` (none when None), identity fields replaced."""

    def apply(w: World, call: Call) -> Call:
        body = {**call.json, **{name: make(w) for name, make in identity.items()}}
        key = value(w)
        if key is not None:
            body["hardware_key"] = key
        return replace(call, json=[body] if call.path.endswith("/bulk_create") else body)

    return apply


XYTE_UNAUTHORIZED, XYTE_FORBIDDEN = Expect(401, xyte="Unauthorized"), Expect(403, xyte="Forbidden")
XYTE_TAKEN = Expect(422, xyte="Conflict")
# The hub: a raw access key in Authorization; a key opens its own device only (403 for a valid key of
# another device: B, A's child, a ThingsBoard device), and anything that is no key is 401 (a scheme
# before A's key included: the dialect takes the header whole, as Xyte's agents send it)
XYTE_HUB_KINDS = [
    ("B's access key", _xyte_key(lambda w: w.xyte_b.key), XYTE_FORBIDDEN),
    ("A's child's access key", _xyte_key(lambda w: w.xchild.key if w.xchild else ""), XYTE_FORBIDDEN),
    ("a ThingsBoard device's token", _xyte_key(lambda w: w.a.token), XYTE_FORBIDDEN),
    ("unknown access key", _xyte_key(lambda w: secrets.token_urlsafe(24)), XYTE_UNAUTHORIZED),
    ("empty Authorization", _xyte_key(lambda w: ""), XYTE_UNAUTHORIZED),
    ("no Authorization", _xyte_key(lambda w: None), XYTE_UNAUTHORIZED),
    ("A's key with a Bearer prefix", _xyte_key(lambda w: f"Bearer {w.xyte_a.key}"), XYTE_UNAUTHORIZED),
    ("a ThingDatas API key (Basic)", _xyte_key(lambda w: w.basic("a")), XYTE_UNAUTHORIZED),
    ("operator JWT", _xyte_key(lambda w: f"Bearer {w.operator_token}"), XYTE_UNAUTHORIZED),
    ("operator JWT, raw", _xyte_key(lambda w: w.operator_token), XYTE_UNAUTHORIZED),
]
CREDENTIAL_KINDS += [
    *(
        Kind(scheme, name, apply, expect)
        for scheme in (XYTE, XYTE_IDS)
        for name, apply, expect in XYTE_HUB_KINDS
    ),
    # B's own key on B's own path, with A's command, license, dump, file or incident id: B's answer (404)
    Kind(
        XYTE_IDS,
        "B's key on B's path, A's ids kept",
        _xyte_key(lambda w: w.xyte_b.key, lambda w: w.xyte_b.id),
        None,
    ),
    # registration: the model's hardware key in the body, Xyte A's identity asked for again
    Kind(
        XYTE_REGISTER,
        "B's model key, A's identity",
        _hardware_key(lambda w: w.xyte_b.hardware_key),
        XYTE_TAKEN,
    ),
    Kind(
        XYTE_REGISTER,
        "B's model key, A's Cloud ID with a new serial number",
        _hardware_key(
            lambda w: w.xyte_b.hardware_key, mac=lambda w: "02:00:00:00:00:ff", sn=lambda w: f"{w.marker}-new"
        ),
        XYTE_TAKEN,
    ),
    Kind(
        XYTE_REGISTER,
        "B's model key, A's MAC and serial number with a new Cloud ID",
        _hardware_key(lambda w: w.xyte_b.hardware_key, cloud_id=lambda w: f"{w.marker}-new-cloud"),
        XYTE_TAKEN,
    ),
    Kind(
        XYTE_REGISTER,
        "A's model key, A's identity",
        _hardware_key(lambda w: w.xyte_a.hardware_key),
        XYTE_TAKEN,
    ),
    Kind(
        XYTE_REGISTER, "unknown hardware key", _hardware_key(lambda w: secrets.token_hex(16)), XYTE_NOT_FOUND
    ),
    Kind(
        XYTE_REGISTER, "A's access key as hardware key", _hardware_key(lambda w: w.xyte_a.key), XYTE_NOT_FOUND
    ),
    Kind(XYTE_REGISTER, "no hardware key", _hardware_key(lambda w: None), Expect(400, xyte="InvalidRequest")),
]


# ThingsPro: the Cloud API of a gateway takes a ThingsPro token (Authorization: Bearer, or mx-api-token)
# from its sign-in; nothing else opens it, and a refusal is ThingsPro's 401 envelope
TPE, TPE_LOGIN = "thingspro token", "thingspro sign-in"
TPE_UNAUTHORIZED = Expect(401, thingspro=401)


def _thingspro(header: str, value: Callable[[World], str | None]) -> Callable[[World, Call], Call]:
    def apply(w: World, call: Call) -> Call:
        given = value(w)
        path = call.path.replace("{gateway_id}", w.gateway)
        return replace(
            call, path=path, headers=call.headers if given is None else {**call.headers, header: given}
        )

    return apply


def _sign_in(name: Callable[[World], str], password: Callable[[World], str]) -> Callable[[World, Call], Call]:
    def apply(w: World, call: Call) -> Call:
        path = call.path.replace("{gateway_id}", w.gateway)
        return replace(call, path=path, json={"name": name(w), "password": password(w), "acceptEULA": True})

    return apply


CREDENTIAL_KINDS += [
    Kind(TPE, "no token", _thingspro("Authorization", lambda w: None), TPE_UNAUTHORIZED),
    Kind(
        TPE,
        "unknown token",
        _thingspro("Authorization", lambda w: f"Bearer {secrets.token_urlsafe(32)}"),
        TPE_UNAUTHORIZED,
    ),
    Kind(
        TPE,
        "unknown mx-api-token",
        _thingspro("mx-api-token", lambda w: secrets.token_urlsafe(32)),
        TPE_UNAUTHORIZED,
    ),
    Kind(
        TPE,
        "the token without Bearer",
        _thingspro("Authorization", lambda w: w.thingspro_token),
        TPE_UNAUTHORIZED,
    ),
    Kind(
        TPE,
        "operator JWT",
        _thingspro("Authorization", lambda w: f"Bearer {w.operator_token}"),
        TPE_UNAUTHORIZED,
    ),
    Kind(
        TPE,
        "the gateway's MQTT key",
        _thingspro("Authorization", lambda w: f"Bearer {w.gateway_key}"),
        TPE_UNAUTHORIZED,
    ),
    Kind(TPE, "A's ThingsBoard token", _thingspro("mx-api-token", lambda w: w.a.token), TPE_UNAUTHORIZED),
    Kind(TPE, "a Xyte access key", _thingspro("mx-api-token", lambda w: w.xyte_a.key), TPE_UNAUTHORIZED),
    Kind(
        TPE,
        "a ThingDatas API key (Basic)",
        _thingspro("Authorization", lambda w: w.basic("a")),
        TPE_UNAUTHORIZED,
    ),
    Kind(
        TPE_LOGIN,
        "a wrong password",
        _sign_in(lambda w: w.stack.admin_name, lambda w: "wrong-password-1"),
        TPE_UNAUTHORIZED,
    ),
    Kind(
        TPE_LOGIN,
        "an unknown operator",
        _sign_in(lambda w: f"{w.marker}-nobody", lambda w: w.stack.admin_password),
        TPE_UNAUTHORIZED,
    ),
    Kind(
        TPE_LOGIN,
        "the gateway's MQTT key as password",
        _sign_in(lambda w: w.stack.admin_name, lambda w: w.gateway_key),
        TPE_UNAUTHORIZED,
    ),
    Kind(
        TPE_LOGIN,
        "the token as password",
        _sign_in(lambda w: w.stack.admin_name, lambda w: w.thingspro_token),
        TPE_UNAUTHORIZED,
    ),
]
THINGSPRO = "/thingspro/gateways/{gateway_id}/api/v1"
DEVICE_ROUTES.update(
    {
        f"ANY {THINGSPRO}/{{proxy+}}": Aim(
            TPE, lambda w: Call("PUT", f"{THINGSPRO}/mqtt/1/store-and-forward", json={"enable": False})
        ),
        f"GET {THINGSPRO}/auth": Aim(TPE, lambda w: Call("GET", f"{THINGSPRO}/auth")),
        f"POST {THINGSPRO}/auth": Aim(TPE_LOGIN, lambda w: Call("POST", f"{THINGSPRO}/auth")),
    }
)
KINDS = {(kind.scheme, kind.name): kind for kind in CREDENTIAL_KINDS}
NO_ENTRY = "(no entry in DEVICE_ROUTES)"


def _device_cells(route_keys: list[str] = DEVICE_ROUTE_KEYS) -> list[Any]:
    cells = []
    for route_key in route_keys:
        aim = DEVICE_ROUTES.get(route_key)
        names = [kind.name for kind in CREDENTIAL_KINDS if aim is not None and kind.scheme == aim.scheme]
        for name in names or [NO_ENTRY]:
            cells.append(pytest.param(route_key, name, id=f"{route_key} | {name}"))
    return cells


@dataclass
class Observed:
    """A's state as last seen: the 'before' of the next cell (every cell leaves A as it found it, and
    says so; a cell that does not is reported and the next one starts from what it left)."""

    state: dict[str, Any]
    stored: list[str]


def a_identifiers(w: World) -> list[str]:
    return [
        w.a.id,
        w.a.name,
        w.xyte_a.id,
        w.xyte_a.model_id,
        *(value for name, value in w.ids.items() if not name.endswith("-id")),
    ]


@pytest.fixture(scope="module")
def observed(world: World) -> Observed:
    return Observed(device_state(world), stored_items(world, a_identifiers(world)))


def send(w: World, call: Call) -> requests.Response:
    return requests.request(
        call.method,
        f"{w.url}{call.path}",
        params=call.params,
        json=call.json if call.data is None else None,
        data=call.data,
        headers=call.headers,
        timeout=HTTP_TIMEOUT_S,
    )


def check_answer(response: requests.Response, expect: Expect, *, bulk: bool = False) -> None:
    """The answer is ``expect`` (for a bulk registration: 201 with one entry, the refusal's)."""
    if bulk:
        assert response.status_code == 201, response.text
        entries = response.json()
        assert isinstance(entries, list) and len(entries) == 1, entries
        assert entries[0] == {**entries[0], "status": expect.status, "code": expect.xyte}, entries
        assert set(entries[0]) == {"error", "code", "status"}, entries
        return
    assert response.status_code == expect.status, response.text
    if expect.body is not None:
        assert response.content == expect.body
    if expect.code is not None:
        body = response.json()
        assert {"code", "message"} <= set(body), body
        assert body["code"] == expect.code, body
    if expect.xyte is not None:
        body = response.json()
        assert set(body) == {"error", "code"} and isinstance(body["error"], str), body
        assert body["code"] == expect.xyte, body
    if expect.thingspro is not None:
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        assert body["error"]["code"] == expect.thingspro, body


@pytest.mark.parametrize(("route_key", "kind_name"), _device_cells())
def test_a_device_route_gives_nothing_of_device_a_to_another_credential(
    world: World, observed: Observed, route_key: str, kind_name: str
) -> None:
    aim = DEVICE_ROUTES.get(route_key)
    if aim is None or kind_name == NO_ENTRY:
        pytest.fail(f"{route_key} has no entry in DEVICE_ROUTES (or its scheme no credential kind): add one")
    kind = KINDS[(aim.scheme, kind_name)]
    expect = kind.expect or aim.own_answer
    assert expect is not None, f"{route_key}: {kind_name} needs the route's own_answer"

    # Given A seeded with a value in every place, as the operator API showed it after the previous cell
    call = kind.apply(world, aim.call(world))

    # When the route is aimed at A's data with this credential
    response = send(world, call)

    # Then the answer is the dialect's refusal (or the credential's own device's answer)
    check_answer(response, expect, bulk=aim.bulk)
    # and it holds none of A's values
    assert leaked(world, response) == []
    # and A is unchanged, as the operator API and the store show it
    before = Observed(observed.state, observed.stored)
    observed.state, observed.stored = device_state(world), stored_items(world, a_identifiers(world))
    assert observed.state == before.state
    assert observed.stored == before.stored


# ------------------------------------------------------------------------ the controls of the device matrix
A_OWN_CREDENTIAL: dict[str, Callable[[World, Call], Call]] = {
    TB: _token(lambda w: w.a.token),
    TD: _authorization(lambda w, c: w.basic("a")),
    XYTE: _xyte_key(lambda w: w.xyte_a.key),
    XYTE_IDS: _xyte_key(lambda w: w.xyte_a.key),
}


@pytest.mark.parametrize(
    "route_key",
    [
        "GET /api/v1/{token}/attributes",
        "GET /api/v1/thing-datas/{thingName}/shadow",
        "POST /api/v1/thing-datas/jobs/{jobId}/get",
        "GET /v1/devices/{device_id}/config",
        "GET /v1/devices/{device_id}/command",
        "GET /v1/devices/{device_id}/license",
        "GET /v1/devices/{device_id}/space",
        "GET /v1/devices/{device_id}/incidents",
        "GET /v1/devices/{device_id}/files/{file_id}",
    ],
)
def test_the_same_reads_with_a_s_own_credential_find_a_s_values(world: World, route_key: str) -> None:
    # The control for "holds none of A's values": the aims reach A's data, and the search finds it
    aim = DEVICE_ROUTES[route_key]
    response = send(world, A_OWN_CREDENTIAL[aim.scheme](world, aim.call(world)))
    assert response.status_code == 200, response.text
    assert leaked(world, response) != []


def test_a_write_with_a_s_own_credential_shows_in_the_state_compared(
    world: World, observed: Observed
) -> None:
    # The control for "A is unchanged": A's own token writing the aimed telemetry is seen by both views
    aim = DEVICE_ROUTES["POST /api/v1/{token}/telemetry"]
    response = send(world, A_OWN_CREDENTIAL[aim.scheme](world, aim.call(world)))
    assert response.status_code == 200, response.text
    state, stored = device_state(world), stored_items(world, a_identifiers(world))
    assert state["telemetry/latest"] != observed.state["telemetry/latest"]
    assert stored != observed.stored
    observed.state, observed.stored = state, stored  # the next cell starts from here


def test_a_xyte_write_with_a_s_own_key_shows_in_the_state_compared(world: World, observed: Observed) -> None:
    # The control for Xyte A: A's own key sending the aimed telemetry is seen by both views
    aim = DEVICE_ROUTES["POST /v1/devices/{device_id}/telemetry"]
    response = send(world, A_OWN_CREDENTIAL[aim.scheme](world, aim.call(world)))
    assert response.status_code == 200, response.text
    state, stored = device_state(world), stored_items(world, a_identifiers(world))
    assert state["xyte telemetry/latest"] != observed.state["xyte telemetry/latest"]
    assert state["xyte shadow"] != observed.state["xyte shadow"]  # the status, "error" now
    assert stored != observed.stored
    observed.state, observed.stored = state, stored


def test_a_registration_with_a_fresh_identity_is_what_the_refused_ones_would_have_been(
    world: World, observed: Observed
) -> None:
    # The control for the registration cells: A's model key with an identity nobody has registers (and
    # shows among the stored items of model A), so the 422s above are for A's identity, not the key
    aim = DEVICE_ROUTES["POST /v1/devices"]
    fresh = {"cloud_id": f"{world.marker}-fresh", "mac": "02:00:00:00:00:fe", "sn": f"{world.marker}-fresh"}
    call = _hardware_key(lambda w: w.xyte_a.hardware_key)(world, aim.call(world))
    response = send(world, replace(call, json={**call.json, **fresh}))
    assert response.status_code == 201, response.text
    stored = stored_items(world, a_identifiers(world))
    assert stored != observed.stored
    deleted = world.operator("DELETE", f"/manage/v1/devices/{response.json()['id']}")
    assert deleted.status_code == 204, deleted.text
    observed.stored = stored_items(world, a_identifiers(world))


def test_the_device_table_names_only_routes_of_the_template_and_every_scheme_has_kinds() -> None:
    # A route the template no longer has would leave its entry untested; a scheme without kinds, its routes
    assert sorted(set(DEVICE_ROUTES) - set(DEVICE_ROUTE_KEYS)) == []
    assert {aim.scheme for aim in DEVICE_ROUTES.values()} <= {kind.scheme for kind in CREDENTIAL_KINDS}


def test_a_new_route_enters_the_matrix_and_fails_until_it_has_an_entry(world: World) -> None:
    # An operator route with a path parameter nobody filled fails its cells instead of being skipped
    with pytest.raises(pytest.fail.Exception, match=r"no value for \{widgetId\}"):
        operator_path(world, "GET /manage/v1/widgets/{widgetId}")
    # and a device route without an entry gets the one cell that fails
    cells = _device_cells(["POST /api/v1/xyte/{accessKey}/status"])
    assert [cell.values for cell in cells] == [("POST /api/v1/xyte/{accessKey}/status", NO_ENTRY)]
