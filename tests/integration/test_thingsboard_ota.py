"""ThingsBoard GET /api/v1/{token}/firmware and /software, handlers in process against moto: whole
packages, chunks, the empty chunk past the end, every class of bad input, and what it costs in AWS."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests

from fleetgate.services import devices
from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import Device, Stack
from tests.integration.ota_steps import (
    assign,
    assign_profile,
    call,
    create,
    download,
    ota_items,
    ready_package,
)

DATA = bytes((i * 7 + 3) % 256 for i in range(1028))
QUERY = {"title": "thermostat-fw", "version": "1.2.0"}
LAMBDA_RESPONSE_LIMIT = 6_291_556  # bytes, the JSON envelope included
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "PutObject"}


def body_of(response: dict[str, Any]) -> bytes:
    assert response["isBase64Encoded"] is True
    return base64.b64decode(response["body"])


@pytest.fixture
def firmware(stack: Stack, device: Device) -> dict[str, Any]:
    package = ready_package(
        stack, DATA, title="thermostat-fw", version="1.2.0", fileName="thermostat-1.2.0.bin"
    )
    status, _ = assign(stack, device.id, firmwareId=package["id"])
    assert status == 200
    return package


# --------------------------------------------------------------------------- bytes
def test_size_zero_returns_the_whole_package_with_its_headers(
    stack: Stack, device: Device, firmware: dict[str, Any]
) -> None:
    response = download(stack, device.token, {**QUERY, "size": "0", "chunk": "7"})

    assert response["statusCode"] == 200
    assert body_of(response) == DATA
    assert response["headers"] == {
        "content-type": "application/octet-stream",
        "content-disposition": "attachment;filename=thermostat-1.2.0.bin",
        "x-filename": "thermostat-1.2.0.bin",
    }


def test_size_and_chunk_default_to_the_whole_package(
    stack: Stack, device: Device, firmware: dict[str, Any]
) -> None:
    response = download(stack, device.token, QUERY)

    assert body_of(response) == DATA


def test_chunks_concatenate_to_the_package_and_past_the_end_is_200_empty(
    stack: Stack, device: Device, firmware: dict[str, Any]
) -> None:
    """What the SDK does with chunk_size=300 for 1028 bytes: chunks 0..4, the last one empty."""
    chunks = [download(stack, device.token, {**QUERY, "size": "300", "chunk": str(c)}) for c in range(5)]

    assert [r["statusCode"] for r in chunks] == [200] * 5
    assert [len(body_of(r)) for r in chunks] == [300, 300, 300, 128, 0]
    assert b"".join(body_of(r) for r in chunks) == DATA
    far = download(stack, device.token, {**QUERY, "size": "300", "chunk": "2147483647"})
    assert far["statusCode"] == 200 and body_of(far) == b""


def test_a_size_beyond_the_package_serves_the_package(
    stack: Stack, device: Device, firmware: dict[str, Any]
) -> None:
    first = download(stack, device.token, {**QUERY, "size": str(len(DATA)), "chunk": "0"})
    second = download(stack, device.token, {**QUERY, "size": str(len(DATA)), "chunk": "1"})
    huge = download(stack, device.token, {**QUERY, "size": "2147483647", "chunk": "0"})

    assert body_of(first) == DATA
    assert body_of(second) == b""
    assert body_of(huge) == DATA


def test_the_package_content_type_is_served(stack: Stack, device: Device) -> None:
    package = ready_package(stack, b"{}", title="cfg", version="1", contentType="application/json")
    assign(stack, device.id, firmwareId=package["id"])

    response = download(stack, device.token, {"title": "cfg", "version": "1"})

    assert response["headers"]["content-type"] == "application/json"
    assert response["headers"]["x-filename"] == "firmware.bin"
    assert body_of(response) == b"{}"


def test_a_chunk_is_one_ranged_read(stack: Stack, device: Device, firmware: dict[str, Any]) -> None:
    download(stack, device.token, {**QUERY, "size": "300", "chunk": "1"})  # warm

    with recorded_aws_calls() as calls:
        response = download(stack, device.token, {**QUERY, "size": "300", "chunk": "1"})
        past = download(stack, device.token, {**QUERY, "size": "300", "chunk": "9"})

    assert body_of(response) == DATA[300:600] and body_of(past) == b""
    operations = [c.operation for c in calls]
    assert operations == ["GetItem", "BatchGetItem", "GetObject", "GetItem", "BatchGetItem"]
    get_object = next(c for c in calls if c.operation == "GetObject")
    assert get_object.params["Range"] == "bytes=300-599"
    assert get_object.params["VersionId"]


# --------------------------------------------------------------------------- what is served
def test_the_documented_event_is_served_once_its_package_is_assigned(stack: Stack, device: Device) -> None:
    package = ready_package(stack, DATA * 4, title="thermostat-fw", version="1.2.0")
    assign(stack, device.id, firmwareId=package["id"])

    response = download(stack, device.token, {"title": "thermostat-fw", "version": "1.2.0", "size": "4096"})

    assert response["statusCode"] == 200
    assert body_of(response) == (DATA * 4)[:4096]


def test_software_is_served_by_its_own_endpoint(stack: Stack, device: Device) -> None:
    package = ready_package(stack, b"app-bytes", type="SOFTWARE", title="thermostat-app", version="3.1")
    assign(stack, device.id, softwareId=package["id"])

    software = download(stack, device.token, {"title": "thermostat-app", "version": "3.1"}, software=True)
    firmware = download(stack, device.token, {"title": "thermostat-app", "version": "3.1"})

    assert software["statusCode"] == 200
    assert body_of(software) == b"app-bytes"
    assert software["headers"]["x-filename"] == "software.bin"
    assert firmware["statusCode"] == 404


def test_a_device_gets_its_profile_package_unless_it_has_its_own(stack: Stack) -> None:
    profile_pkg = ready_package(stack, b"profile", title="fw", version="p")
    own_pkg = ready_package(stack, b"own", title="fw", version="o")
    call(stack, "list_ota_packages")  # the process now has the operator function's environment
    _member, member_token = devices.register("member", profile_id="p-1")
    special, special_token = devices.register("special", profile_id="p-1")
    assign_profile(stack, "p-1", firmwareId=profile_pkg["id"])
    assign(stack, special.id, firmwareId=own_pkg["id"])

    from_profile = download(stack, member_token, {"title": "fw", "version": "p"})
    own = download(stack, special_token, {"title": "fw", "version": "o"})
    not_the_profile_one = download(stack, special_token, {"title": "fw", "version": "p"})

    assert body_of(from_profile) == b"profile"
    assert body_of(own) == b"own"
    assert not_the_profile_one["statusCode"] == 400


def test_unassigned_firmware_is_no_longer_served(
    stack: Stack, device: Device, firmware: dict[str, Any]
) -> None:
    assign(stack, device.id, firmwareId=None)

    response = download(stack, device.token, QUERY)

    assert response["statusCode"] == 404


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"version": "1.2.0"}, "'title'"),
        ({"title": "thermostat-fw"}, "'version'"),
        ({"title": "", "version": "1.2.0"}, "'title'"),
        ({**QUERY, "size": "abc"}, "size"),
        ({**QUERY, "size": "1.5"}, "size"),
        ({**QUERY, "size": "-1"}, "size"),
        ({**QUERY, "size": "+1"}, "size"),
        ({**QUERY, "size": "2147483648"}, "size"),
        ({**QUERY, "chunk": "-1"}, "chunk"),
        ({**QUERY, "chunk": "one"}, "chunk"),
        ({**QUERY, "chunk": "99999999999"}, "chunk"),
        ({"title": "other-fw", "version": "1.2.0"}, "title and version"),
        ({"title": "thermostat-fw", "version": "1.2.1"}, "title and version"),
        ({"title": "THERMOSTAT-FW", "version": "1.2.0"}, "title and version"),
    ],
)
def test_bad_requests_are_400_with_a_reason_and_write_nothing(
    stack: Stack, device: Device, firmware: dict[str, Any], query: dict[str, str], fragment: str
) -> None:
    before = ota_items(stack)

    with recorded_aws_calls() as calls:
        response = download(stack, device.token, query)

    assert response["statusCode"] == 400
    assert fragment in response["body"]
    assert response["headers"]["content-type"].startswith("text/plain")
    assert not {c.operation for c in calls} & WRITES
    assert ota_items(stack) == before


def test_nothing_assigned_is_404_with_an_empty_body(stack: Stack, device: Device) -> None:
    response = download(stack, device.token, QUERY)

    assert response["statusCode"] == 404
    assert response["body"] == ""


def test_a_pending_package_is_never_served(stack: Stack, device: Device) -> None:
    create(stack, title="thermostat-fw", version="1.2.0")

    response = download(stack, device.token, QUERY)

    assert response["statusCode"] == 404


def test_an_unknown_token_is_401(stack: Stack, firmware: dict[str, Any]) -> None:
    response = download(stack, "no-such-token", QUERY)

    assert response["statusCode"] == 401
    assert response["body"] == ""


# --------------------------------------------------------------------------- the response limit
@pytest.fixture
def large(stack: Stack, device: Device) -> bytes:
    """A 4 MiB + 100 byte package, uploaded through its presigned URL."""
    data = bytes(range(256)) * (4 * 4096) + b"x" * 100
    package = create(stack, title="big", version="1")
    assert requests.put(package["uploadUrl"], data=data, timeout=30).status_code == 200
    assert call(stack, "complete_ota_package", package_id=package["id"])[0] == 200
    assign(stack, device.id, firmwareId=package["id"])
    return data


@pytest.mark.parametrize("query", [{"size": "0"}, {"size": str(4 * 2**20 + 1)}, {}])
def test_an_answer_over_4_mib_is_413_telling_the_device_to_use_chunks(
    stack: Stack, device: Device, large: bytes, query: dict[str, str]
) -> None:
    response = download(stack, device.token, {"title": "big", "version": "1", **query})

    assert response["statusCode"] == 413
    message = json.loads(response["body"])
    assert isinstance(message, str)
    assert "chunks of at most 4194304 bytes" in message


def test_4_mib_chunks_fit_in_one_lambda_response(stack: Stack, device: Device, large: bytes) -> None:
    first = download(
        stack, device.token, {"title": "big", "version": "1", "size": str(4 * 2**20), "chunk": "0"}
    )
    second = download(
        stack, device.token, {"title": "big", "version": "1", "size": str(4 * 2**20), "chunk": "1"}
    )

    assert body_of(first) + body_of(second) == large
    envelope = len(json.dumps(first).encode())
    assert envelope < LAMBDA_RESPONSE_LIMIT, envelope
