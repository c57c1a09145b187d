"""Xyte files: an operator creates a model's file and uploads its bytes to the presigned URL; devices of
that model (and only those) list and read it with a presigned download pinned to the uploaded bytes;
a firmware file becomes the model's latest firmware. Bad input is refused in the dialect's own error
format (``{"error","code"}`` for devices, the operator envelope for operators) with nothing written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

from fleetgate.contracts.xyte_files import OPERATIONS as FILES_OPERATIONS
from fleetgate.domain.xyte import Identity
from fleetgate.services import devices, xyte
from fleetgate.services.xyte import Registration
from fleetgate.settings import get_settings
from fleetgate_local.inprocess import load_event, recorded_aws_calls
from tests.integration.conftest import (
    DEVICE_PLACEHOLDER,
    EVENTS,
    TOKEN_PLACEHOLDER,
    Stack,
    with_body,
    with_query,
)
from tests.integration.xyte_files_walk import walk_xyte_files
from tests.openapi_conformance import conformance_problems

MODEL = "6d1f3c2a-8b4e-4f7a-9c5d-0e1a2b3c4d5e"
FILE = "3f2b8c1e-5d4a-4e6b-9c7d-2a1b0c9d8e7f"
MANAGE = "ManageXyteFilesFunction"
FIRMWARE = {"name": "Projector firmware", "file_type": "firmware", "version": "1.0.5"}


@dataclass
class XyteDevice:
    id: str
    key: str
    model_id: str


@pytest.fixture(autouse=True)
def _registry(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The services the tests set up with (models, registration) use the stack's tables."""
    monkeypatch.setenv("DEVICES_TABLE", stack.table("DevicesTable"))
    monkeypatch.setenv("FILES_BUCKET", stack.table("FilesBucket"))
    get_settings.cache_clear()


def make_device(model_id: str, cloud_id: str) -> XyteDevice:
    model = xyte.get_model(model_id)
    record, key = xyte.register(model, Registration(Identity(cloud_id, None, None), "1.0.0"))
    return XyteDevice(record.device_id, key, model.id)


def model(api_version: str = "1.0.7", name: str = "Projector X1") -> str:
    return xyte.create_model(name, api_version)[0].id


def operator(stack: Stack, name: str, body: Any = None, **path: str) -> tuple[int, Any]:
    event = load_event(EVENTS / "manage" / f"xyte_files_{name}.json", **{MODEL: path.get("model", MODEL)})
    event = _readdress(event, {FILE: path.get("file", FILE), DEVICE_PLACEHOLDER: path.get("device", "")})
    if body is not None:
        event = with_body(event, body if isinstance(body, str) else json.dumps(body))
    response = stack.invoke(MANAGE, event)
    text = response.get("body") or ""
    return response["statusCode"], json.loads(text) if text else None


def device_call(
    stack: Stack, function: str, name: str, who: XyteDevice, key: str | None = None, **path: str
) -> tuple[int, Any]:
    event = load_event(
        EVENTS / "xyte" / f"{name}.json",
        **{TOKEN_PLACEHOLDER: key if key is not None else who.key, DEVICE_PLACEHOLDER: who.id},
    )
    event = _readdress(event, {FILE: path.get("file", FILE)})
    response = stack.invoke(function, event)
    text = response.get("body") or ""
    return response["statusCode"], json.loads(text) if text else None


def _readdress(event: dict[str, Any], replacements: dict[str, str]) -> dict[str, Any]:
    text = json.dumps(event)
    for old, new in replacements.items():
        if new:
            text = text.replace(old, new)
    return json.loads(text)


def get_file(stack: Stack, who: XyteDevice, file_id: str, key: str | None = None) -> tuple[int, Any]:
    return device_call(stack, "XyteGetFileFunction", "files_get_file", who, key, file=file_id)


def get_files(stack: Stack, who: XyteDevice, key: str | None = None) -> tuple[int, Any]:
    return device_call(stack, "XyteGetFilesFunction", "files_get_files", who, key)


def create(stack: Stack, model_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    status, created = operator(stack, "create_file", body or FIRMWARE, model=model_id)
    assert status == 201, created
    return created["data"]


def upload(url: str, data: bytes) -> None:
    response = requests.put(url, data=data, timeout=10)
    assert response.status_code == 200, response.text


def file_items(stack: Stack) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=stack.table("DevicesTable"))["Items"]
    return [i for i in items if i["sk"]["S"].startswith("FILE#")]


def objects(stack: Stack, prefix: str = "xyte/") -> list[dict[str, Any]]:
    listing = boto3.client("s3").list_object_versions(Bucket=stack.table("FilesBucket"), Prefix=prefix)
    return listing.get("Versions", []) + listing.get("DeleteMarkers", [])


# --------------------------------------------------------------------------- the life of a file
def test_a_file_is_invisible_to_devices_until_its_bytes_are_uploaded(stack: Stack) -> None:
    # Given a model with a device, and a firmware file the operator created
    model_id = model()
    dev = make_device(model_id, "cloud-1")
    created = create(
        stack,
        model_id,
        {**FIRMWARE, "checksum": "abc123", "signature": "RSA signature...", "desc": "HDMI\nfix"},
    )
    assert created["uploaded"] is False and created["size"] is None
    assert created["upload_url"] and created["upload_url_expires_at"]

    # When the device asks before the upload
    # Then the file does not exist for it
    assert get_file(stack, dev, created["id"]) == (
        404,
        {"error": f"File '{created['id']}' has no data yet", "code": "NotFound"},
    )
    assert get_files(stack, dev) == (200, [])

    # When the operator PUTs the bytes to the presigned URL
    upload(created["upload_url"], b"\x7fELF firmware 1.0.5")

    # Then the device reads the file as Xyte's Get File shapes it, with a URL that serves the bytes
    status, body = get_file(stack, dev, created["id"])
    assert status == 200, body
    url = body.pop("url")
    assert body == {
        "id": created["id"],
        "name": "Projector firmware",
        "desc": "HDMI\nfix",
        "file_type": "firmware",
        "version": "1.0.5",
        "created_at": created["created_at"],
        "public_notes": "",
        "checksum": "abc123",
        "signature": "RSA signature...",
        "device_id": dev.id,  # model API version 1.0.7
    }
    assert requests.get(url, timeout=10).content == b"\x7fELF firmware 1.0.5"
    assert "X-Amz-Expires=300" in url and "versionId=" in url
    status, listed = get_files(stack, dev)
    assert status == 200 and [f["id"] for f in listed] == [created["id"]]


def test_a_device_before_api_1_0_7_gets_no_device_id_and_optional_fields_are_left_out(stack: Stack) -> None:
    model_id = model("1.0.6")
    dev = make_device(model_id, "cloud-1")
    created = create(stack, model_id)
    upload(created["upload_url"], b"bytes")

    status, body = get_file(stack, dev, created["id"])

    assert status == 200
    assert "device_id" not in body and "checksum" not in body and "signature" not in body


def test_a_device_reads_only_its_own_models_files(stack: Stack) -> None:
    # Given two models, each with a device, and an uploaded file of the first
    first, second = model(name="A"), model(name="B")
    mine, other = make_device(first, "a"), make_device(second, "b")
    created = create(stack, first)
    upload(created["upload_url"], b"bytes")

    # Then the other model's device does not find it, by id or in its list
    assert get_file(stack, other, created["id"])[0] == 404
    assert get_files(stack, other) == (200, [])
    assert get_file(stack, mine, created["id"])[0] == 200


def test_the_download_url_pins_the_bytes_that_were_uploaded(stack: Stack) -> None:
    # Given a file uploaded, then seen by the operator (which records its S3 version)
    model_id = model()
    dev = make_device(model_id, "c")
    created = create(stack, model_id)
    upload(created["upload_url"], b"version one")
    status, seen = operator(stack, "get_file", model=model_id, file=created["id"])
    assert status == 200 and seen["data"]["uploaded"] is True and seen["data"]["size"] == 11
    assert "upload_url" not in seen["data"]  # its bytes are settled

    # When the still-valid upload URL is used again
    upload(created["upload_url"], b"version two, overwritten")

    # Then devices still download the bytes that were recorded
    url = get_file(stack, dev, created["id"])[1]["url"]
    assert requests.get(url, timeout=10).content == b"version one"


def test_file_ids_that_are_no_file_are_404_without_touching_dynamodb(stack: Stack) -> None:
    dev = make_device(model(), "c")
    for file_id in ("not-a-uuid", "x" * 2000, FILE):
        with recorded_aws_calls() as calls:
            status, body = get_file(stack, dev, file_id)
        assert status == 404 and body["code"] == "NotFound"
        if file_id != FILE:
            assert [c.operation for c in calls if c.service == "dynamodb"] == [
                "GetItem",
                "GetItem",
            ]  # the key


# --------------------------------------------------------------------------- credentials
def test_keys_open_their_own_device_only(stack: Stack) -> None:
    model_id = model()
    a, b = make_device(model_id, "a"), make_device(model_id, "b")
    plain, token = devices.register("thingsboard-1", queues=False)

    assert get_files(stack, a, key="not-a-key")[0] == 401
    assert get_files(stack, a, key="")[0] == 401
    assert get_files(stack, a, key=b.key) == (
        403,
        {"error": "This access key belongs to another device", "code": "Forbidden"},
    )
    foreign = XyteDevice(plain.id, token, model_id)
    assert get_files(stack, foreign) == (
        403,
        {"error": "This device is not a Xyte device", "code": "Forbidden"},
    )


# --------------------------------------------------------------------------- operator rules
@pytest.mark.parametrize(
    ("api_version", "body", "status"),
    [
        ("1.0.4", {**FIRMWARE, "version": "v2"}, 400),  # SemVer from 1.0.4
        ("1.0.3", {**FIRMWARE, "version": "v2"}, 201),
        ("1.0.7", {**FIRMWARE, "file_type": "config", "version": "v2"}, 201),  # only firmware is SemVer
        ("1.0.7", {**FIRMWARE, "version": "1.0.5-rc.1+build.7"}, 201),
    ],
)
def test_a_firmware_version_is_semver_from_api_1_0_4(
    stack: Stack, api_version: str, body: dict[str, Any], status: int
) -> None:
    model_id = model(api_version)

    answer = operator(stack, "create_file", body, model=model_id)

    assert answer[0] == status, answer
    assert len(file_items(stack)) == (1 if status == 201 else 0)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        {"file_type": "firmware", "version": "1.0.0"},  # no name
        {**FIRMWARE, "extra": 1},
        {**FIRMWARE, "name": "   "},
        {**FIRMWARE, "name": "bad\x00name"},
        {**FIRMWARE, "file_type": "Firmware"},
        {**FIRMWARE, "file_type": "../x"},
        {**FIRMWARE, "version": ""},
        {**FIRMWARE, "version": 105},
        {**FIRMWARE, "checksum": "é"},
        {**FIRMWARE, "checksum": ""},
        {**FIRMWARE, "desc": "bell\x07"},
        {**FIRMWARE, "public_notes": "x" * 4097},
    ],
)
def test_a_bad_file_body_is_400_and_writes_nothing(stack: Stack, body: Any) -> None:
    model_id = model()

    status, answer = operator(stack, "create_file", body, model=model_id)

    assert status == 400, answer
    assert answer["error"]["code"] == 400
    assert file_items(stack) == [] and objects(stack) == []


def test_files_of_a_model_that_does_not_exist_are_404(stack: Stack) -> None:
    for model_id in (MODEL, "not-a-uuid"):
        status, answer = operator(stack, "create_file", FIRMWARE, model=model_id)
        assert status == 404, answer
        assert operator(stack, "list_files", model=model_id)[0] == 404
    assert file_items(stack) == []


def test_the_latest_firmware_must_be_an_uploaded_firmware_file_and_stays_until_replaced(stack: Stack) -> None:
    # Given a model with a pending firmware file, and an uploaded config file
    model_id = model()
    firmware = create(stack, model_id)
    config = create(stack, model_id, {**FIRMWARE, "file_type": "config", "version": "v1"})
    upload(config["upload_url"], b"config")

    # Then neither can be the latest firmware yet
    status, answer = operator(stack, "make_latest_firmware", model=model_id, file=firmware["id"])
    assert status == 409 and "no data yet" in answer["error"]["message"]
    assert operator(stack, "make_latest_firmware", model=model_id, file=config["id"])[0] == 400
    assert xyte.get_model(model_id).latest_fw_file_id is None

    # When the firmware is uploaded and made the latest
    upload(firmware["upload_url"], b"firmware")
    status, answer = operator(stack, "make_latest_firmware", model=model_id, file=firmware["id"])

    # Then the model names it, and it cannot be deleted while it is the latest
    assert (status, answer["data"]) == (
        200,
        {"model_id": model_id, "latest_fw_version": "1.0.5", "latest_fw_file_id": firmware["id"]},
    )
    saved = xyte.get_model(model_id)
    assert (saved.latest_fw_version, saved.latest_fw_file_id) == ("1.0.5", firmware["id"])
    assert operator(stack, "delete_file", model=model_id, file=firmware["id"])[0] == 409
    assert len(file_items(stack)) == 2
    # a file of another model is not found through this one
    other = model(name="Other")
    assert operator(stack, "make_latest_firmware", model=other, file=firmware["id"])[0] == 404


def test_deleting_a_file_removes_its_item_and_its_bytes(stack: Stack) -> None:
    model_id = model()
    dev = make_device(model_id, "c")
    created = create(stack, model_id, {**FIRMWARE, "file_type": "manual", "version": "2"})
    upload(created["upload_url"], b"manual")

    assert operator(stack, "delete_file", model=model_id, file=created["id"]) == (204, None)

    assert file_items(stack) == []
    assert get_file(stack, dev, created["id"])[0] == 404
    assert operator(stack, "get_file", model=model_id, file=created["id"])[0] == 404
    current = boto3.client("s3").list_objects_v2(Bucket=stack.table("FilesBucket"), Prefix="xyte/files/")
    assert current.get("KeyCount", 0) == 0


def test_the_operator_lists_a_models_files_in_pages(stack: Stack) -> None:
    model_id = model()
    made = {create(stack, model_id, {**FIRMWARE, "version": f"1.0.{i}"})["id"] for i in range(3)}

    first = load_event(EVENTS / "manage" / "xyte_files_list_files.json", **{MODEL: model_id})
    first["queryStringParameters"], first["rawQueryString"] = {"limit": "2"}, "limit=2"
    page = json.loads(stack.invoke(MANAGE, first)["body"])
    second = json.loads(json.dumps(first))
    second["queryStringParameters"] = {"limit": "2", "nextToken": page["nextToken"]}
    rest = json.loads(stack.invoke(MANAGE, second)["body"])

    assert page["count"] == 2 and rest["count"] == 1 and "nextToken" not in rest
    assert {f["id"] for f in page["data"] + rest["data"]} == made


def test_a_model_holds_at_most_100_files(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from fleetgate.services import xyte_files  # noqa: PLC0415

    monkeypatch.setattr(xyte_files, "MAX_FILES_PER_MODEL", 2)
    model_id = model()
    create(stack, model_id)
    create(stack, model_id)

    status, answer = operator(stack, "create_file", FIRMWARE, model=model_id)

    assert status == 409 and "at most 2 files" in answer["error"]["message"]
    assert len(file_items(stack)) == 2


# --------------------------------------------------------------------------- AWS calls
def test_aws_calls_per_request(stack: Stack) -> None:
    """The figures of docs/xyte-files.md: a device's Get File is 3 calls once the file is recorded."""
    model_id = model()
    dev = make_device(model_id, "c")
    created = create(stack, model_id)
    upload(created["upload_url"], b"bytes")

    def count(call: Any) -> list[str]:
        call()  # warm: the first call also builds clients
        with recorded_aws_calls() as calls:
            call()
        return [c.operation for c in calls]

    unrecorded = count(lambda: get_file(stack, dev, created["id"]))
    operator(stack, "get_file", model=model_id, file=created["id"])  # records size and version
    recorded = count(lambda: get_file(stack, dev, created["id"]))
    listed = count(lambda: get_files(stack, dev))

    with recorded_aws_calls() as calls:
        create(stack, model_id, {**FIRMWARE, "version": "1.0.6"})
    created_calls = [c.operation for c in calls]
    with recorded_aws_calls() as calls:
        operator(stack, "make_latest_firmware", model=model_id, file=created["id"])
    latest_calls = [c.operation for c in calls]

    assert unrecorded == ["GetItem", "GetItem", "GetItem", "HeadObject"]
    assert recorded == ["GetItem", "GetItem", "GetItem"]
    assert listed == ["GetItem", "GetItem", "Query"]
    assert created_calls == ["GetItem", "Query", "PutItem"]  # the presigned URL is no call
    assert latest_calls == ["GetItem", "GetItem", "PutItem"]


# --------------------------------------------------------------------------- the document
def test_the_files_and_dumps_routes_answer_what_the_document_says(stack: Stack) -> None:
    # Given the functions of the template's routes
    functions = {r.route_key: f.logical_id for f in stack.template.functions() for r in f.routes}
    answers: list[tuple[str, int]] = []

    def call(
        name: str, body: Any = None, *, query: dict[str, str] | None = None, **replace: str
    ) -> tuple[int, Any]:
        event = load_event(EVENTS / f"{name}.json", **replace)
        if body is not None:
            event = with_body(event, json.dumps(body))
        if query is not None:
            event = with_query(event, query)
        response = stack.invoke(functions[event["routeKey"]], event)
        assert conformance_problems(event["routeKey"], response) == [], (event["routeKey"], response)
        answers.append((event["routeKey"], response["statusCode"]))
        text = response.get("body") or ""
        return response["statusCode"], json.loads(text) if text else None

    # When every files and dumps route is called, well and badly
    walk_xyte_files(stack, call)

    # Then every answer conformed, and every route succeeded at least once
    succeeded = {key for key, status in answers if status < 300}
    assert {op.route_key for op in FILES_OPERATIONS} - succeeded == set()
    assert {400, 401, 404, 409} <= {status for _, status in answers}
