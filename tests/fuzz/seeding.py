"""One real resource of every kind a route can name, made through the operator API of a running
stack, so generated requests carry credentials and ids that get past authentication and lookup."""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from fleetgate_local.stack import LocalStack

TIMEOUT_S = 30


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

    @property
    def basic(self) -> str:
        pair = f"{self.api_key_id}:{self.api_key_secret}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def seed(fuzz_stack: LocalStack) -> Seeds:
    """Fresh resources on ``fuzz_stack``: a profile, a device of it with an OTA package assigned, an API
    key for every ThingDatas route, an RPC, a command, a job and a thing group."""
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
    )


def _ok(response: requests.Response) -> Any:
    assert response.status_code in (200, 201), f"{response.request.method} {response.url}: {response.text}"
    return response.json()["data"]
