"""Firmware and software OTA over real HTTP against a local stack: ThingsBoard's Python SDK, unmodified,
downloads, verifies and reports UPDATED; requests-level calls pin each answer of the device endpoints
and the operator's presigned upload."""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from tb_device_http import TBHTTPDevice

pytestmark = pytest.mark.e2e

DATA = bytes((i * 31 + 7) % 256 for i in range(1028))
HTTP_TIMEOUT_S = 30


@pytest.fixture
def device(operator: requests.Session) -> dict[str, str]:
    response = operator.post(
        f"{operator.base_url}/manage/v1/devices", json={"name": f"ota-{uuid.uuid4().hex[:12]}"}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return {"id": data["id"], "token": data["credentials"]["accessToken"]}


def upload(operator: requests.Session, data: bytes, **fields: Any) -> dict[str, Any]:
    """A READY package: created, PUT to its presigned URL, completed."""
    body = {"type": "FIRMWARE", "title": f"fw-{uuid.uuid4().hex[:8]}", "version": "1.0"} | fields
    created = operator.post(f"{operator.base_url}/manage/v1/ota-packages", json=body)
    assert created.status_code == 201, created.text
    package = created.json()["data"]
    put = requests.put(package["uploadUrl"], data=data, timeout=HTTP_TIMEOUT_S)
    assert put.status_code == 200, put.text
    completed = operator.post(f"{operator.base_url}/manage/v1/ota-packages/{package['id']}/complete")
    assert completed.status_code == 200, completed.text
    return dict(completed.json()["data"])


def assign(operator: requests.Session, device_id: str, **changes: str | None) -> None:
    response = operator.put(f"{operator.base_url}/manage/v1/devices/{device_id}/ota", json=changes)
    assert response.status_code == 200, response.text


def ota_view(operator: requests.Session, device_id: str) -> dict[str, Any]:
    response = operator.get(f"{operator.base_url}/manage/v1/devices/{device_id}/ota")
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def firmware_url(stack: Any, token: str, kind: str = "firmware") -> str:
    return f"{stack.url}/api/v1/{token}/{kind}"


# --------------------------------------------------------------------------- ThingsBoard's SDK
@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory: the SDK writes a file named after fw_title into it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("chunk_size", [300, 0, 4096])
def test_the_sdk_downloads_verifies_and_reports_updated(
    stack: Any, operator: requests.Session, device: dict[str, str], workdir: Path, chunk_size: int
) -> None:
    package = upload(operator, DATA, title="thermostat-fw", version=f"1.{chunk_size}")
    assert package["checksum"] == hashlib.sha256(DATA).hexdigest()
    assign(operator, device["id"], firmwareId=package["id"])
    sdk = TBHTTPDevice(stack.url, device["token"], chunk_size=chunk_size)
    assert sdk.connect() is True  # starts the worker that sends its queued fw_state telemetry

    sdk.get_firmware_update()

    assert (workdir / "thermostat-fw").read_bytes() == DATA
    deadline = time.monotonic() + 15
    firmware = ota_view(operator, device["id"])["firmware"]
    while time.monotonic() < deadline and firmware["reported"].get("fw_state", {}).get("value") != "UPDATED":
        time.sleep(0.3)
        firmware = ota_view(operator, device["id"])["firmware"]
    assert firmware["reported"]["fw_state"]["value"] == "UPDATED"
    assert firmware["reported"]["current_fw_title"]["value"] == "thermostat-fw"
    assert firmware["upToDate"] is True


# --------------------------------------------------------------------------- device endpoints
@pytest.fixture
def assigned(operator: requests.Session, device: dict[str, str]) -> dict[str, Any]:
    package = upload(operator, DATA, fileName="thermostat.bin")
    assign(operator, device["id"], firmwareId=package["id"])
    return package


def test_chunks_and_the_empty_chunk_past_the_end(
    stack: Any, device: dict[str, str], assigned: dict[str, Any]
) -> None:
    query = {"title": assigned["title"], "version": "1.0", "size": "500"}
    parts = [
        requests.get(
            firmware_url(stack, device["token"]), params={**query, "chunk": c}, timeout=HTTP_TIMEOUT_S
        )
        for c in range(4)
    ]

    assert [p.status_code for p in parts] == [200] * 4
    assert [len(p.content) for p in parts] == [500, 500, 28, 0]
    assert b"".join(p.content for p in parts) == DATA
    assert parts[0].headers["Content-Type"] == "application/octet-stream"
    assert parts[0].headers["Content-Disposition"] == "attachment;filename=thermostat.bin"
    assert parts[0].headers["x-filename"] == "thermostat.bin"
    assert parts[3].headers["Content-Length"] == "0"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"version": "1.0"}, 400),
        ({"title": "TITLE"}, 400),
        ({"title": "TITLE", "version": "1.0", "size": "x"}, 400),
        ({"title": "TITLE", "version": "1.0", "size": "-5"}, 400),
        ({"title": "TITLE", "version": "1.0", "chunk": "-1"}, 400),
        ({"title": "TITLE", "version": "1.0", "chunk": "1e3"}, 400),
        ({"title": "TITLE", "version": "2.0"}, 400),
        ({"title": "other", "version": "1.0"}, 400),
    ],
)
def test_each_bad_request_is_a_clear_4xx(
    stack: Any, device: dict[str, str], assigned: dict[str, Any], query: dict[str, str], status: int
) -> None:
    params = {k: assigned["title"] if v == "TITLE" else v for k, v in query.items()}

    response = requests.get(firmware_url(stack, device["token"]), params=params, timeout=HTTP_TIMEOUT_S)

    assert response.status_code == status
    assert response.text  # the reason, as plain text


def test_nothing_assigned_is_404_and_a_bad_token_401(stack: Any, device: dict[str, str]) -> None:
    params = {"title": "a", "version": "1"}

    nothing = requests.get(firmware_url(stack, device["token"]), params=params, timeout=HTTP_TIMEOUT_S)
    software = requests.get(firmware_url(stack, device["token"], "software"), params=params, timeout=30)
    stranger = requests.get(firmware_url(stack, "no-such-token"), params=params, timeout=HTTP_TIMEOUT_S)

    assert (nothing.status_code, nothing.content) == (404, b"")
    assert software.status_code == 404
    assert (stranger.status_code, stranger.content) == (401, b"")


def test_the_software_endpoint_serves_the_software_package(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    package = upload(operator, b"#!/bin/sh\necho app\n", type="SOFTWARE", title="app", version="3.1")
    assign(operator, device["id"], softwareId=package["id"])

    response = requests.get(
        firmware_url(stack, device["token"], "software"),
        params={"title": "app", "version": "3.1"},
        timeout=HTTP_TIMEOUT_S,
    )
    attributes = requests.get(
        f"{stack.url}/api/v1/{device['token']}/attributes",
        params={"sharedKeys": "sw_title,sw_size"},
        timeout=30,
    )

    assert response.status_code == 200
    assert response.content == b"#!/bin/sh\necho app\n"
    assert response.headers["x-filename"] == "software.bin"
    assert attributes.json() == {"shared": {"sw_title": "app", "sw_size": 19}}


def test_a_package_larger_than_one_response_is_served_in_4_mib_chunks(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    data = bytes(range(256)) * (4 * 4096) + b"tail"
    package = upload(operator, data, title="big")
    assign(operator, device["id"], firmwareId=package["id"])
    url = firmware_url(stack, device["token"])
    query = {"title": "big", "version": "1.0"}

    whole = requests.get(url, params={**query, "size": "0"}, timeout=HTTP_TIMEOUT_S)
    chunks = [
        requests.get(url, params={**query, "size": str(4 * 2**20), "chunk": c}, timeout=HTTP_TIMEOUT_S)
        for c in range(2)
    ]

    assert whole.status_code == 413
    assert "chunks of at most 4194304 bytes" in whole.json()
    assert [c.status_code for c in chunks] == [200, 200]
    assert chunks[0].content + chunks[1].content == data


# --------------------------------------------------------------------------- operator uploads
def test_a_presigned_upload_with_a_wrong_checksum_stays_pending(
    stack: Any, operator: requests.Session
) -> None:
    created = operator.post(
        f"{operator.base_url}/manage/v1/ota-packages",
        json={
            "type": "FIRMWARE",
            "title": f"fw-{uuid.uuid4().hex[:8]}",
            "version": "1",
            "checksum": "0" * 64,
        },
    ).json()["data"]
    requests.put(created["uploadUrl"], data=DATA, timeout=HTTP_TIMEOUT_S)

    completed = operator.post(f"{operator.base_url}/manage/v1/ota-packages/{created['id']}/complete")
    got = operator.get(f"{operator.base_url}/manage/v1/ota-packages/{created['id']}").json()["data"]

    assert completed.status_code == 400
    assert "Checksum mismatch" in completed.json()["error"]["message"]
    assert got["status"] == "PENDING"


def test_a_small_package_can_be_uploaded_through_the_api(operator: requests.Session) -> None:
    created = operator.post(
        f"{operator.base_url}/manage/v1/ota-packages",
        json={"type": "FIRMWARE", "title": f"fw-{uuid.uuid4().hex[:8]}", "version": "1"},
    ).json()["data"]

    response = operator.put(
        f"{operator.base_url}/manage/v1/ota-packages/{created['id']}/data",
        data=DATA,
        headers={"Content-Type": "application/octet-stream"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["checksum"] == hashlib.sha256(DATA).hexdigest()
    assert response.json()["data"]["size"] == len(DATA)
