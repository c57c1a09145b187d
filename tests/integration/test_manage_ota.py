"""Operator OTA API: packages (create, upload directly or through a presigned URL, complete, list, read,
delete) and their assignment to devices and device profiles, handlers in process against moto."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from typing import Any

import boto3
import pytest
import requests

from fleetgate.services import devices
from fleetgate.services import ota as ota_service
from tests.integration.conftest import Device, Stack, event, with_body, with_query
from tests.integration.ota_steps import (
    assign,
    assign_profile,
    bucket_keys,
    call,
    create,
    download,
    ota_items,
    ready_package,
)

FIRMWARE = b"\x7fELF\x00fleetgate firmware " + bytes(range(256)) * 4


def shared(stack: Stack, device_id: str) -> dict[str, Any]:
    response = stack.invoke("ManageDevicesFunction", event("manage/get_attributes", device_id=device_id))
    assert response["statusCode"] == 200, response
    return dict(json.loads(response["body"])["data"]["shared"])


def fw_attributes(package: dict[str, Any]) -> dict[str, Any]:
    return {
        "fw_title": package["title"],
        "fw_version": package["version"],
        "fw_size": package["size"],
        "fw_checksum": package["checksum"],
        "fw_checksum_algorithm": package["checksumAlgorithm"],
    }


def with_body_json(source: dict[str, Any], value: Any) -> dict[str, Any]:
    return with_body(source, json.dumps(value))


def device_in_profile(stack: Stack, name: str, profile_id: str) -> Device:
    """A device of ``profile_id`` (registered through the core: the profiles API is not ours)."""
    call(stack, "list_ota_packages")  # the process now has the operator function's environment
    device, token = devices.register(name, profile_id=profile_id)
    return Device(device.id, token)


# --------------------------------------------------------------------------- create
def test_create_returns_a_pending_package_with_defaults_and_an_upload_url(stack: Stack) -> None:
    status, body = call(stack, "create_ota_package", body={"type": "FIRMWARE", "title": "fw", "version": "1"})

    assert status == 201
    data = body["data"]
    assert data["status"] == "PENDING"
    assert data["checksumAlgorithm"] == "SHA256"
    assert data["contentType"] == "application/octet-stream"
    assert data["fileName"] == "firmware.bin"
    assert data["size"] is None and data["checksum"] is None
    assert f"ota/{data['id']}" in data["uploadUrl"]
    assert "X-Amz-Expires=900" in data["uploadUrl"]
    assert data["uploadUrlExpiresAt"].endswith("Z")
    assert len(ota_items(stack)) == 2  # the package and its title claim
    assert bucket_keys(stack) == []


def test_the_documented_event_creates_a_package(stack: Stack) -> None:
    status, body = call(stack, "create_ota_package")

    assert status == 201
    assert body["data"]["fileName"] == "thermostat-1.2.0.bin"


def test_title_and_version_are_unique_per_type(stack: Stack) -> None:
    create(stack, title="fw", version="1")
    before = ota_items(stack)

    status, body = call(stack, "create_ota_package", body={"type": "FIRMWARE", "title": "fw", "version": "1"})

    assert status == 409
    assert "already exists" in body["error"]["message"]
    assert ota_items(stack) == before
    status, _ = call(stack, "create_ota_package", body={"type": "SOFTWARE", "title": "fw", "version": "1"})
    assert status == 201
    status, _ = call(stack, "create_ota_package", body={"type": "FIRMWARE", "title": "fw", "version": "2"})
    assert status == 201


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        {"title": "fw", "version": "1"},
        {"type": "BOOTLOADER", "title": "fw", "version": "1"},
        {"type": "FIRMWARE", "version": "1"},
        {"type": "FIRMWARE", "title": "", "version": "1"},
        {"type": "FIRMWARE", "title": "../../etc/passwd", "version": "1"},
        {"type": "FIRMWARE", "title": "..", "version": "1"},
        {"type": "FIRMWARE", "title": "fw\n", "version": "1"},
        {"type": "FIRMWARE", "title": "x" * 256, "version": "1"},
        {"type": "FIRMWARE", "title": "fw"},
        {"type": "FIRMWARE", "title": "fw", "version": 1},
        {"type": "FIRMWARE", "title": "fw", "version": "1", "contentType": "binary"},
        {"type": "FIRMWARE", "title": "fw", "version": "1", "fileName": "a;b=c"},
        {"type": "FIRMWARE", "title": "fw", "version": "1", "fileName": ".."},
        {"type": "FIRMWARE", "title": "fw", "version": "1", "checksumAlgorithm": "SHA1"},
        {"type": "FIRMWARE", "title": "fw", "version": "1", "checksum": "abc"},
        {"type": "FIRMWARE", "title": "fw", "version": "1", "checksumAlgorithm": "MD5", "checksum": "z" * 32},
        {"type": "FIRMWARE", "title": "fw", "version": "1", "size": 0},
        {"type": "FIRMWARE", "title": "fw", "version": "1", "size": "10"},
        {"type": "FIRMWARE", "title": "fw", "version": "1", "checksumAlgoritm": "MD5"},
    ],
)
def test_invalid_packages_are_400_and_write_nothing(stack: Stack, body: Any) -> None:
    status, answer = call(
        stack, "create_ota_package", body=body if isinstance(body, str) else json.dumps(body)
    )

    assert status == 400, answer
    assert answer["error"]["code"] == 400 and answer["error"]["message"]
    assert ota_items(stack) == []


# --------------------------------------------------------------------------- upload directly
def test_direct_upload_verifies_and_makes_the_package_ready(stack: Stack) -> None:
    package = create(stack, checksum=hashlib.sha256(FIRMWARE).hexdigest().upper(), size=len(FIRMWARE))

    status, body = call(stack, "upload_ota_package_data", package_id=package["id"], raw=FIRMWARE)

    assert status == 200, body
    assert body["data"]["status"] == "READY"
    assert body["data"]["size"] == len(FIRMWARE)
    assert body["data"]["checksum"] == hashlib.sha256(FIRMWARE).hexdigest()
    stored = boto3.client("s3").get_object(Bucket=stack.table("FilesBucket"), Key=f"ota/{package['id']}")
    assert stored["Body"].read() == FIRMWARE
    status, got = call(stack, "get_ota_package", package_id=package["id"])
    assert got["data"]["status"] == "READY" and "uploadUrl" not in got["data"]


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("SHA384", hashlib.sha384(FIRMWARE).hexdigest()),
        ("sha512", hashlib.sha512(FIRMWARE).hexdigest()),
        ("MD5", hashlib.md5(FIRMWARE).hexdigest()),  # noqa: S324 - a checksum ThingsBoard offers
    ],
)
def test_the_checksum_uses_the_package_algorithm(stack: Stack, algorithm: str, expected: str) -> None:
    package = ready_package(stack, FIRMWARE, checksumAlgorithm=algorithm)

    assert package["checksumAlgorithm"] == algorithm.upper()
    assert package["checksum"] == expected


@pytest.mark.parametrize(
    ("declared", "data", "fragment"),
    [
        ({"checksum": "0" * 64}, FIRMWARE, "Checksum mismatch"),
        ({"size": len(FIRMWARE) + 1}, FIRMWARE, "Size mismatch"),
        ({}, b"", "bytes"),
    ],
)
def test_bad_direct_uploads_are_400_and_the_package_stays_pending(
    stack: Stack, declared: dict[str, Any], data: bytes, fragment: str
) -> None:
    package = create(stack, **declared)

    status, body = call(stack, "upload_ota_package_data", package_id=package["id"], raw=data)

    assert status == 400
    assert fragment in body["error"]["message"]
    assert bucket_keys(stack) == []
    _, got = call(stack, "get_ota_package", package_id=package["id"])
    assert got["data"]["status"] == "PENDING" and got["data"]["uploadUrl"]


def test_a_direct_upload_over_4_mib_is_413(stack: Stack) -> None:
    package = create(stack)

    status, body = call(
        stack, "upload_ota_package_data", package_id=package["id"], raw=b"\0" * (4 * 2**20 + 1)
    )

    assert status == 413
    assert "uploadUrl" in body["error"]["message"]
    assert bucket_keys(stack) == []


def test_a_ready_package_cannot_be_uploaded_again(stack: Stack) -> None:
    package = ready_package(stack, FIRMWARE)

    status, body = call(stack, "upload_ota_package_data", package_id=package["id"], raw=b"other bytes")

    assert status == 409
    assert "READY" in body["error"]["message"]


def test_upload_to_an_unknown_package_is_404(stack: Stack) -> None:
    status, _ = call(stack, "upload_ota_package_data", raw=FIRMWARE)

    assert status == 404
    assert bucket_keys(stack) == []


# --------------------------------------------------------------------------- presigned upload
def test_presigned_upload_then_complete_measures_size_and_checksum(stack: Stack) -> None:
    package = create(stack, checksumAlgorithm="CRC32")

    put = requests.put(package["uploadUrl"], data=FIRMWARE, timeout=10)
    status, body = call(stack, "complete_ota_package", package_id=package["id"])

    assert put.status_code == 200
    assert status == 200, body
    assert body["data"]["checksum"] == (zlib.crc32(FIRMWARE) & 0xFFFFFFFF).to_bytes(4, "little").hex()
    assert body["data"]["size"] == len(FIRMWARE)
    assert body["data"]["status"] == "READY"


def test_complete_with_a_wrong_declared_checksum_is_400_then_a_corrected_upload_completes(
    stack: Stack,
) -> None:
    package = create(stack, checksum=hashlib.sha256(FIRMWARE).hexdigest())
    requests.put(package["uploadUrl"], data=b"corrupted" + FIRMWARE, timeout=10)

    status, body = call(stack, "complete_ota_package", package_id=package["id"])

    assert status == 400
    assert "Checksum mismatch" in body["error"]["message"]
    _, got = call(stack, "get_ota_package", package_id=package["id"])
    assert got["data"]["status"] == "PENDING"
    requests.put(got["data"]["uploadUrl"], data=FIRMWARE, timeout=10)  # a fresh URL from GET
    status, body = call(stack, "complete_ota_package", package_id=package["id"])
    assert status == 200
    assert body["data"]["status"] == "READY"


def test_complete_of_an_object_over_the_package_limit_is_413_and_reads_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ota_service, "MAX_PACKAGE_BYTES", len(FIRMWARE) - 1)
    package = create(stack)
    requests.put(package["uploadUrl"], data=FIRMWARE, timeout=10)

    status, body = call(stack, "complete_ota_package", package_id=package["id"])

    assert status == 413
    assert "at most" in body["error"]["message"]
    _, got = call(stack, "get_ota_package", package_id=package["id"])
    assert got["data"]["status"] == "PENDING"


def test_complete_before_any_upload_is_409(stack: Stack) -> None:
    package = create(stack)

    status, body = call(stack, "complete_ota_package", package_id=package["id"])

    assert status == 409
    assert "uploadUrl" in body["error"]["message"]
    _, got = call(stack, "get_ota_package", package_id=package["id"])
    assert got["data"]["status"] == "PENDING"


def test_complete_is_idempotent(stack: Stack) -> None:
    package = ready_package(stack, FIRMWARE)

    status, body = call(stack, "complete_ota_package", package_id=package["id"])

    assert status == 200
    assert body["data"] == package


def test_bytes_put_after_completion_are_never_served(stack: Stack, device: Device) -> None:
    """The presigned URL stays valid until it expires; devices still get the verified version."""
    package = create(stack)
    requests.put(package["uploadUrl"], data=FIRMWARE, timeout=10)
    call(stack, "complete_ota_package", package_id=package["id"])
    requests.put(package["uploadUrl"], data=b"tampered", timeout=10)
    assign(stack, device.id, firmwareId=package["id"])

    response = download(stack, device.token, {"title": "thermostat-fw", "version": "1.0"})

    assert response["statusCode"] == 200
    assert base64.b64decode(response["body"]) == FIRMWARE


# --------------------------------------------------------------------------- list, get, delete
def test_list_by_type_newest_first_with_pages(stack: Stack) -> None:
    ids = [create(stack, title="fw", version=str(v))["id"] for v in range(3)]
    software = create(stack, type="SOFTWARE", title="app")["id"]

    _, first = call(stack, "list_ota_packages", query={"type": "FIRMWARE", "limit": "2"})
    _, second = call(
        stack, "list_ota_packages", query={"type": "FIRMWARE", "limit": "2", "nextToken": first["nextToken"]}
    )
    _, everything = call(stack, "list_ota_packages", query={"limit": "10"})

    assert [p["id"] for p in first["data"]] + [p["id"] for p in second["data"]] == ids[::-1]
    assert first["count"] == 2
    assert {p["id"] for p in everything["data"]} == {*ids, software}


@pytest.mark.parametrize(
    "query", [{"type": "firmware"}, {"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"nextToken": "!!"}]
)
def test_bad_list_parameters_are_400(stack: Stack, query: dict[str, str]) -> None:
    status, body = call(stack, "list_ota_packages", query=query)

    assert status == 400, body


def test_unknown_package_is_404(stack: Stack) -> None:
    for name in ("get_ota_package", "complete_ota_package", "delete_ota_package"):
        status, body = call(stack, name)
        assert status == 404, name
        assert body["error"]["code"] == 404


def test_delete_removes_the_package_its_bytes_and_its_title(stack: Stack) -> None:
    package = ready_package(stack, FIRMWARE)

    status, _ = call(stack, "delete_ota_package", package_id=package["id"])

    assert status == 204
    assert ota_items(stack) == []
    assert bucket_keys(stack) == []
    assert create(stack)["title"] == package["title"]  # the title and version are free again


def test_an_assigned_package_cannot_be_deleted(stack: Stack, device: Device) -> None:
    package = ready_package(stack, FIRMWARE)
    assign(stack, device.id, firmwareId=package["id"])

    status, body = call(stack, "delete_ota_package", package_id=package["id"])

    assert status == 409
    assert f"device {device.id}" in body["error"]["message"]
    assert bucket_keys(stack) == [f"ota/{package['id']}"]
    assign(stack, device.id, firmwareId=None)
    status, _ = call(stack, "delete_ota_package", package_id=package["id"])
    assert status == 204


def test_assignments_of_deleted_devices_do_not_block_a_delete(stack: Stack, device: Device) -> None:
    package = ready_package(stack, FIRMWARE)
    assign(stack, device.id, firmwareId=package["id"])
    stack.invoke("ManageDevicesFunction", event("manage/delete_device", device_id=device.id))

    status, _ = call(stack, "delete_ota_package", package_id=package["id"])

    assert status == 204
    assert ota_items(stack) == []


# --------------------------------------------------------------------------- device assignment
def test_assigning_firmware_sets_the_shared_attributes_and_wakes_the_device(
    stack: Stack, device: Device
) -> None:
    package = ready_package(stack, FIRMWARE)

    status, body = assign(stack, device.id, firmwareId=package["id"])

    assert status == 200, body
    assert body["data"]["firmware"]["assigned"]["id"] == package["id"]
    assert body["data"]["firmware"]["assigned"]["source"] == "DEVICE"
    assert body["data"]["software"]["assigned"] is None
    assert shared(stack, device.id) == fw_attributes(package)
    update = stack.invoke(
        "TbGetAttributeUpdatesFunction",
        with_query(event("thingsboard/get_attribute_updates", token=device.token), {"timeout": "1"}),
    )
    assert update["statusCode"] == 200
    assert json.loads(update["body"]) == fw_attributes(package)


def test_software_uses_the_sw_attributes(stack: Stack, device: Device) -> None:
    package = ready_package(stack, b"app", type="SOFTWARE", title="app", version="3.1")

    assign(stack, device.id, softwareId=package["id"])

    assert shared(stack, device.id) == {
        "sw_title": "app",
        "sw_version": "3.1",
        "sw_size": 3,
        "sw_checksum": hashlib.sha256(b"app").hexdigest(),
        "sw_checksum_algorithm": "SHA256",
    }


def test_assigning_removes_fw_url_and_replacing_updates_the_attributes(stack: Stack, device: Device) -> None:
    stack.invoke(
        "ManageDevicesFunction",
        with_body_json(event("manage/put_shared_attributes", device_id=device.id), {"fw_url": "http://x"}),
    )
    first = ready_package(stack, FIRMWARE, version="1")
    second = ready_package(stack, FIRMWARE[:10], version="2")

    assign(stack, device.id, firmwareId=first["id"])
    assign(stack, device.id, firmwareId=second["id"])

    assert shared(stack, device.id) == fw_attributes(second)
    assert call(stack, "delete_ota_package", package_id=first["id"])[0] == 204  # released
    assert call(stack, "delete_ota_package", package_id=second["id"])[0] == 409


def test_unassigning_removes_the_attributes(stack: Stack, device: Device) -> None:
    package = ready_package(stack, FIRMWARE)
    assign(stack, device.id, firmwareId=package["id"])
    stack.invoke(
        "ManageDevicesFunction",
        with_body_json(event("manage/put_shared_attributes", device_id=device.id), {"interval": 5}),
    )

    status, body = assign(stack, device.id, firmwareId=None)

    assert status == 200
    assert body["data"]["firmware"]["assigned"] is None
    assert shared(stack, device.id) == {"interval": 5}


@pytest.mark.parametrize(
    "body",
    [
        "",
        "nope",
        "{}",
        '{"firmwareId": 7}',
        '{"firmwareId": "x", "bootloaderId": "y"}',
        '{"softwareId": ["a"]}',
    ],
)
def test_bad_assignment_bodies_are_400_and_write_nothing(stack: Stack, device: Device, body: str) -> None:
    before = ota_items(stack)

    status, answer = call(stack, "put_device_ota", target_id=device.id, body=body)

    assert status == 400, answer
    assert ota_items(stack) == before
    assert shared(stack, device.id) == {}


def test_assignment_errors_are_clear_and_write_nothing(stack: Stack, device: Device) -> None:
    firmware = ready_package(stack, FIRMWARE)
    pending = create(stack, version="2")
    before = ota_items(stack)

    wrong_type = assign(stack, device.id, softwareId=firmware["id"])
    not_ready = assign(stack, device.id, firmwareId=pending["id"])
    unknown_package = assign(stack, device.id, firmwareId="no-such-package")
    half_bad = assign(stack, device.id, firmwareId=firmware["id"], softwareId="no-such-package")
    unknown_device = assign(stack, "no-such-device", firmwareId=firmware["id"])

    assert wrong_type[0] == 400 and "is FIRMWARE, not SOFTWARE" in wrong_type[1]["error"]["message"]
    assert not_ready[0] == 409 and "not READY" in not_ready[1]["error"]["message"]
    assert unknown_package[0] == 404
    assert half_bad[0] == 404
    assert unknown_device[0] == 404
    assert ota_items(stack) == before
    assert shared(stack, device.id) == {}


def test_the_device_view_shows_the_reported_progress(stack: Stack, device: Device) -> None:
    package = ready_package(stack, FIRMWARE, version="1.10")
    assign(stack, device.id, firmwareId=package["id"])
    _, before = call(stack, "get_device_ota", target_id=device.id)
    stack.invoke(
        "TbPostTelemetryFunction",
        with_body_json(
            event("thingsboard/post_telemetry", token=device.token),
            {
                "ts": 1700000000000,
                "values": {
                    "fw_state": "UPDATED",
                    "current_fw_title": "thermostat-fw",
                    "current_fw_version": "1.10",
                },
            },
        ),
    )

    status, after = call(stack, "get_device_ota", target_id=device.id)

    assert before["data"]["firmware"]["upToDate"] is False
    assert before["data"]["firmware"]["reported"] == {}
    assert status == 200
    firmware = after["data"]["firmware"]
    assert firmware["reported"]["fw_state"] == {"ts": 1700000000000, "value": "UPDATED"}
    assert firmware["upToDate"] is True  # "1.10" is stored as the number 1.1, and still matches
    assert after["data"]["software"] == {"assigned": None, "reported": {}, "upToDate": False}


def test_the_device_view_of_an_unknown_device_is_404(stack: Stack) -> None:
    status, _ = call(stack, "get_device_ota", target_id="no-such-device")

    assert status == 404


# --------------------------------------------------------------------------- profile assignment
def test_a_profile_assignment_reaches_its_devices_unless_they_have_their_own(stack: Stack) -> None:
    profile_fw = ready_package(stack, FIRMWARE, version="profile")
    own_fw = ready_package(stack, FIRMWARE, version="own")
    plain = device_in_profile(stack, "plain", "p-1")
    special = device_in_profile(stack, "special", "p-1")
    elsewhere = device_in_profile(stack, "elsewhere", "p-2")
    assign(stack, special.id, firmwareId=own_fw["id"])

    status, body = assign_profile(stack, "p-1", firmwareId=profile_fw["id"])

    assert status == 200, body
    assert body["data"]["firmware"]["id"] == profile_fw["id"]
    assert body["data"]["firmware"]["source"] == "PROFILE"
    assert body["data"]["devicesChecked"] == 2
    assert shared(stack, plain.id) == fw_attributes(profile_fw)
    assert shared(stack, special.id) == fw_attributes(own_fw)
    assert shared(stack, elsewhere.id) == {}
    _, view = call(stack, "get_device_ota", target_id=plain.id)
    assert view["data"]["firmware"]["assigned"]["source"] == "PROFILE"
    _, profile = call(stack, "get_profile_ota", target_id="p-1")
    assert profile["data"]["firmware"]["id"] == profile_fw["id"]

    # the device's own assignment removed: it falls back to the profile's package
    assign(stack, special.id, firmwareId=None)
    assert shared(stack, special.id) == fw_attributes(profile_fw)
    # the profile's removed: its devices lose the attributes
    status, body = assign_profile(stack, "p-1", firmwareId=None)
    assert status == 200 and body["data"]["firmware"] is None
    assert shared(stack, plain.id) == {}
    assert shared(stack, special.id) == {}


def test_bad_profile_assignments_are_4xx_and_write_nothing(stack: Stack) -> None:
    firmware = ready_package(stack, FIRMWARE)
    before = ota_items(stack)

    assert assign_profile(stack, "p-1", softwareId=firmware["id"])[0] == 400
    assert assign_profile(stack, "p-1", firmwareId="no-such-package")[0] == 404
    assert call(stack, "put_profile_ota", target_id="p-1", body="{}")[0] == 400
    assert assign_profile(stack, "p" * 129, firmwareId=firmware["id"])[0] == 400
    assert ota_items(stack) == before
