"""One real resource of every kind a route can name, made through the operator API of a running
stack, so generated requests carry credentials and ids that get past authentication and lookup."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from fleetgate_local.stack import LocalStack

TIMEOUT_S = 30


@dataclass(frozen=True)
class XyteSeeds:
    """A Xyte model with a device that has one of everything a hub route names, and a second device of
    the model that only the hub's self-deletion uses."""

    model_id: str
    hardware_key: str = field(repr=False)
    device_id: str
    access_key: str = field(repr=False)
    command_id: str
    license_id: str
    dump_id: str
    file_id: str  # the model's latest firmware, uploaded
    incident_id: str
    doomed_id: str  # deleted by the first DELETE /v1/devices/{device_id} that passes
    doomed_key: str = field(repr=False)


@dataclass(frozen=True)
class Seeds:
    """Real credentials and ids on the fuzzing stack."""

    url: str
    operator_token: str = field(repr=False)
    device_id: str
    thing_name: str
    access_token: str = field(repr=False)  # the device's ThingsBoard token
    api_key_id: str  # a ThingDatas key allowed every device route, for every thing
    api_key_secret: str = field(repr=False)
    profile_id: str
    provision_key: str
    provision_secret: str = field(repr=False)
    package_id: str
    package_title: str  # the device's firmware, as its ThingsBoard download must name it
    package_version: str
    rpc_id: str  # an operator RPC of the device (UUID)
    rpc_request_id: int  # the same RPC's per-device integer id, as the device sees it
    execution_id: str  # a ThingDatas command of the device
    job_id: str  # a job targeting the thing
    group_name: str
    now_ms: int  # the seeding time, epoch milliseconds
    xyte: XyteSeeds | None = None

    @property
    def x(self) -> XyteSeeds:
        assert self.xyte is not None
        return self.xyte

    @property
    def basic(self) -> str:
        pair = f"{self.api_key_id}:{self.api_key_secret}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def seed(fuzz_stack: LocalStack) -> Seeds:
    """Fresh resources on ``fuzz_stack``: a profile, a device of it with an OTA package assigned, an API
    key for every ThingDatas route, an RPC, a command, a job and a thing group; and Xyte's (``seed_xyte``)."""
    url = fuzz_stack.url
    token = _ok(
        requests.post(
            f"{url}/manage/v1/auth",
            json={"name": fuzz_stack.admin_name, "password": fuzz_stack.admin_password},
            timeout=TIMEOUT_S,
        )
    )["token"]
    operator = requests.Session()
    operator.headers["Authorization"] = f"Bearer {token}"

    def call(method: str, path: str, **kwargs: Any) -> Any:
        return _ok(operator.request(method, f"{url}/manage/v1{path}", timeout=TIMEOUT_S, **kwargs))

    suffix = uuid.uuid4().hex[:8]
    profile = call(
        "POST",
        "/device-profiles",
        json={"name": f"fuzz-{suffix}", "provisionStrategy": "ALLOW_CREATE_NEW_DEVICES"},
    )
    device = call("POST", "/devices", json={"name": f"fuzz-thing-{suffix}", "profileId": profile["id"]})
    thing = device["name"]
    key = call(
        "POST",
        "/api-keys",
        json={
            "name": f"fuzz-{suffix}",
            "permissions": [{"method": method, "path": "/api/v1/thing-datas"} for method in ("GET", "POST")],
        },
    )
    firmware = b"fuzz firmware image"
    package = call(
        "POST",
        "/ota-packages",
        json={"type": "FIRMWARE", "title": f"fuzz-{suffix}", "version": "1.0"},
    )
    call(
        "PUT",
        f"/ota-packages/{package['id']}/data",
        data=firmware,
        headers={"Content-Type": "application/octet-stream"},
    )
    call("PUT", f"/devices/{device['id']}/ota", json={"firmwareId": package["id"]})
    rpc = call("POST", f"/devices/{device['id']}/rpc", json={"method": "reboot", "persistent": True})
    command = call("POST", f"/devices/{device['id']}/commands", json={"action": "reboot"})
    job = call(
        "POST",
        "/jobs",
        json={"jobId": f"fuzz-{suffix}", "document": {"step": "update"}, "targets": {"thingNames": [thing]}},
    )
    group = call("POST", "/thing-groups", json={"name": f"fuzz-{suffix}"})
    return Seeds(
        url=url,
        operator_token=token,
        device_id=device["id"],
        thing_name=thing,
        access_token=device["credentials"]["accessToken"],
        api_key_id=key["id"],
        api_key_secret=key["secret"],
        profile_id=profile["id"],
        provision_key=profile["provisionDeviceKey"],
        provision_secret=profile["provisionDeviceSecret"],
        package_id=package["id"],
        package_title=package["title"],
        package_version=package["version"],
        rpc_id=rpc["rpcId"],
        rpc_request_id=int(rpc["id"]),
        execution_id=command["executionId"],
        job_id=job["jobId"],
        group_name=group["name"],
        now_ms=int(time.time() * 1000),
        xyte=seed_xyte(url, call, suffix),
    )


def seed_xyte(url: str, call: Callable[..., Any], suffix: str) -> XyteSeeds:
    """A model (API 1.0.7), two of its devices; the first with a command, a license, an incident, a dump
    and the model's uploaded latest firmware."""
    model = call("POST", "/xyte/models", json={"name": f"fuzz {suffix}", "api_version": "1.0.7"})
    registered = []
    for n in (1, 2):
        body = {
            "hardware_key": model["hardware_key"],
            "cloud_id": f"fuzz-{suffix}-{n}",
            "sn": f"fuzz-{suffix}-{n}",
            "firmware_version": "1.0.0",
        }
        registered.append(_created(requests.post(f"{url}/v1/devices", json=body, timeout=TIMEOUT_S)))
    device, doomed = registered
    hub = requests.Session()
    hub.headers["Authorization"] = device["access_key"]
    base = f"{url}/v1/devices/{device['id']}"
    incident = _created(hub.post(f"{base}/incidents", json={"title": "fuzz"}, timeout=TIMEOUT_S))
    dump = _created(hub.post(f"{base}/dumps/text%2Fplain/fuzz.log", data=b"fuzz log", timeout=TIMEOUT_S))
    command = call("POST", f"/xyte/devices/{device['id']}/commands", json={"name": "reboot"})
    license_ = call("POST", f"/xyte/devices/{device['id']}/licenses", json={"data": "seat", "signature": "s"})
    file = call(
        "POST",
        f"/xyte/models/{model['id']}/files",
        json={"name": "fuzz firmware", "file_type": "firmware", "version": "1.0.1"},
    )
    uploaded = requests.put(file["upload_url"], data=b"fuzz firmware", timeout=TIMEOUT_S)
    assert uploaded.status_code == 200, uploaded.text
    call("POST", f"/xyte/models/{model['id']}/files/{file['id']}/latest")
    return XyteSeeds(
        model_id=model["id"],
        hardware_key=model["hardware_key"],
        device_id=device["id"],
        access_key=device["access_key"],
        command_id=command["id"],
        license_id=license_["id"],
        dump_id=dump["id"],
        file_id=file["id"],
        incident_id=incident["id"],
        doomed_id=doomed["id"],
        doomed_key=doomed["access_key"],
    )


def _created(response: requests.Response) -> Any:
    """A Xyte device route's answer (no envelope)."""
    assert response.status_code in (200, 201), f"{response.request.method} {response.url}: {response.text}"
    return response.json()


def _ok(response: requests.Response) -> Any:
    assert response.status_code in (200, 201), f"{response.request.method} {response.url}: {response.text}"
    return response.json()["data"]
