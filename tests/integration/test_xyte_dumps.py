"""Xyte dumps: Send Dump as Xyte's sample agent sends it (raw ``text/plain`` to
``/dumps/text%2Ftxt/agent.log``) and as Xyte's Bruno collection does (multipart field ``data``), appends
as parts of their own, the limits, and the operator's listing and download. Every refusal answers the
dialect's ``{"error","code"}`` and writes nothing (no item, no object)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import requests

from fleetgate.domain.xyte_files import MAX_PART_BYTES, MAX_PARTS
from fleetgate.services import xyte_files
from fleetgate_local.inprocess import load_event, recorded_aws_calls
from tests.integration.conftest import DEVICE_PLACEHOLDER, EVENTS, TOKEN_PLACEHOLDER, Stack, with_body
from tests.integration.test_xyte_files import XyteDevice, make_device, model

SEND = "XyteSendDumpFunction"
APPEND = "XyteAppendDumpFunction"
DUMP = "019ad2c4-5e80-7a3b-8c4d-5e6f7a8b9c0d"
AGENT_LOG = b"2026-11-22T10:00:00Z agent: config applied\n"
pytest_plugins: list[str] = []


@pytest.fixture(autouse=True)
def _registry(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from fleetgate.settings import get_settings  # noqa: PLC0415

    monkeypatch.setenv("DEVICES_TABLE", stack.table("DevicesTable"))
    monkeypatch.setenv("FILES_BUCKET", stack.table("FilesBucket"))
    get_settings.cache_clear()


@pytest.fixture
def dev(stack: Stack) -> XyteDevice:
    return make_device(model(), "cloud-1")


def send(
    stack: Stack,
    who: XyteDevice,
    body: bytes | None = AGENT_LOG,
    *,
    dump_path: str = "text/txt/agent.log",
    raw_tail: str = "text%2Ftxt/agent.log",
    content_type: str = "text/plain",
    key: str | None = None,
) -> tuple[int, Any]:
    event = load_event(
        EVENTS / "xyte" / "dumps_send_dump.json",
        **{TOKEN_PLACEHOLDER: key or who.key, DEVICE_PLACEHOLDER: who.id},
    )
    event["pathParameters"]["dump_path"] = dump_path
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/devices/{who.id}/dumps/{raw_tail}"
    event["headers"]["content-type"] = content_type
    return _invoke(stack, SEND, with_body(event, body) if body is not None else with_body(event, None))


def append(
    stack: Stack, who: XyteDevice, dump_id: str, body: bytes = b"more\n", key: str | None = None
) -> tuple[int, Any]:
    event = load_event(
        EVENTS / "xyte" / "dumps_append_dump.json",
        **{TOKEN_PLACEHOLDER: key or who.key, DEVICE_PLACEHOLDER: who.id},
    )
    event = json.loads(json.dumps(event).replace(DUMP, dump_id.replace('"', '\\"')))
    return _invoke(stack, APPEND, with_body(event, body))


def _invoke(stack: Stack, function: str, event: dict[str, Any]) -> tuple[int, Any]:
    response = stack.invoke(function, event)
    text = response.get("body") or ""
    return response["statusCode"], json.loads(text) if text else None


def operator(
    stack: Stack, name: str, device_id: str, dump_id: str = DUMP, query: dict[str, str] | None = None
) -> tuple[int, Any]:
    event = load_event(
        EVENTS / "manage" / f"xyte_files_{name}.json", **{DEVICE_PLACEHOLDER: device_id, DUMP: dump_id}
    )
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return _invoke(stack, "ManageXyteFilesFunction", event)


def dump_items(stack: Stack) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=stack.table("DevicesTable"))["Items"]
    return [i for i in items if i["sk"]["S"].startswith("DUMP#")]


def dump_objects(stack: Stack) -> list[dict[str, Any]]:
    listing = boto3.client("s3").list_object_versions(Bucket=stack.table("FilesBucket"), Prefix="xyte/dumps/")
    return listing.get("Versions", []) + listing.get("DeleteMarkers", [])


def downloaded(stack: Stack, who: XyteDevice, dump_id: str) -> bytes:
    status, body = operator(stack, "get_dump", who.id, dump_id)
    assert status == 200, body
    return b"".join(requests.get(p["url"], timeout=10).content for p in body["data"]["download"])


# --------------------------------------------------------------------------- the agent's flow
def test_the_agents_dump_and_append_make_one_file_the_operator_downloads(
    stack: Stack, dev: XyteDevice
) -> None:
    # When the device sends its error log as Xyte's agent does, then appends its standard log
    status, created = send(stack, dev)
    assert status == 201, created
    assert created == {"id": created["id"], "length": len(AGENT_LOG)}
    status, appended = append(stack, dev, created["id"], b"stdout line\n")

    # Then the dump grew by the part, and the operator sees one dump holding both, in order
    assert (status, appended) == (200, {"id": created["id"], "length": len(AGENT_LOG) + 12})
    status, listed = operator(stack, "list_dumps", dev.id)
    assert status == 200 and listed["count"] == 1
    entry = listed["data"][0]
    assert {k: entry[k] for k in ("id", "device_id", "mime_type", "filename", "length", "parts")} == {
        "id": created["id"],
        "device_id": dev.id,
        "mime_type": "text/txt",
        "filename": "agent.log",
        "length": len(AGENT_LOG) + 12,
        "parts": 2,
    }
    assert downloaded(stack, dev, created["id"]) == AGENT_LOG + b"stdout line\n"


def test_the_agents_object_object_append_goes_to_its_newest_dump(stack: Stack, dev: XyteDevice) -> None:
    """Xyte's sample agent parses Send Dump's JSON answer and puts the object into the append's path:
    ``/dumps/[object Object]`` (URL-encoded; API Gateway decodes it)."""
    older = send(stack, dev, b"old")[1]["id"]
    newer = send(stack, dev, b"new")[1]["id"]

    status, appended = append(stack, dev, "[object Object]", b"+appended")

    assert (status, appended) == (200, {"id": newer, "length": len(b"new+appended")})
    assert downloaded(stack, dev, newer) == b"new+appended"
    assert downloaded(stack, dev, older) == b"old"


def test_a_multipart_body_stores_its_data_field(stack: Stack, dev: XyteDevice) -> None:
    body = (
        b"--XyteBoundary\r\n"
        b'Content-Disposition: form-data; name="note"\r\n\r\n'
        b"ignored\r\n"
        b"--XyteBoundary\r\n"
        b'Content-Disposition: form-data; name="data"; filename="core.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
        b"\x00\x01binary\r\n\xff\r\n"
        b"--XyteBoundary--\r\n"
    )
    status, created = send(
        stack,
        dev,
        body,
        dump_path="application/octet-stream/core.bin",
        raw_tail="application%2Foctet-stream/core.bin",
        content_type='multipart/form-data; boundary="XyteBoundary"',
    )

    assert status == 201, created
    assert created["length"] == len(b"\x00\x01binary\r\n\xff")
    assert downloaded(stack, dev, created["id"]) == b"\x00\x01binary\r\n\xff"


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("dump_path", "message"),
    [
        ("agent.log", "must end in"),  # no MIME type
        ("text/agent.log", "must end in"),
        ("text/plain/../../etc/passwd", "must end in"),  # traversal: more segments
        ("text/plain/..", "file name"),
        ("text/plain/a\\b", "file name"),
        ("text/plain/agent log", "file name"),
        ("text/plain/" + "a" * 256, "file name"),
        ("te xt/plain/agent.log", "MIME type"),
        ("text/pl;ain/agent.log", "MIME type"),
        ("/plain/agent.log", "MIME type"),
    ],
)
def test_a_bad_dump_path_is_400_and_writes_nothing(
    stack: Stack, dev: XyteDevice, dump_path: str, message: str
) -> None:
    status, body = send(stack, dev, dump_path=dump_path, raw_tail="x/y/z")

    assert status == 400 and body["code"] == "InvalidRequest" and message in body["error"], body
    assert dump_items(stack) == [] and dump_objects(stack) == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "text/plain"),
        (None, "text/plain"),
        (
            b'--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
        ),
        (b'--b\r\nContent-Disposition: form-data; name="data"\r\n\r\nx', "multipart/form-data; boundary=b"),
        (b"no boundary here", "multipart/form-data"),
        (b"--b\r\nno headers end\r\n--b--\r\n", "multipart/form-data; boundary=b"),
    ],
)
def test_an_empty_or_malformed_body_is_400_and_writes_nothing(
    stack: Stack, dev: XyteDevice, body: bytes | None, content_type: str
) -> None:
    status, answer = send(stack, dev, body, content_type=content_type)

    assert status == 400 and answer["code"] == "InvalidRequest", answer
    assert dump_items(stack) == [] and dump_objects(stack) == []


def test_a_part_over_4_mib_is_413_and_writes_nothing(stack: Stack, dev: XyteDevice) -> None:
    status, body = send(stack, dev, b"x" * (MAX_PART_BYTES + 1))
    assert (status, body["code"]) == (413, "PayloadTooLarge")
    created = send(stack, dev, b"first")[1]
    before = dump_objects(stack)

    status, body = append(stack, dev, created["id"], b"x" * (MAX_PART_BYTES + 1))

    assert (status, body["code"]) == (413, "PayloadTooLarge")
    assert dump_objects(stack) == before
    assert downloaded(stack, dev, created["id"]) == b"first"


def test_a_dump_stops_at_10_mib_and_the_refused_append_writes_nothing(stack: Stack, dev: XyteDevice) -> None:
    # Given a dump of two 4 MiB parts (8 MiB)
    block = b"y" * MAX_PART_BYTES
    created = send(stack, dev, block)[1]
    assert append(stack, dev, created["id"], block)[0] == 200
    before = dump_objects(stack)

    # When a third 4 MiB part would take it past 10 MiB
    status, body = append(stack, dev, created["id"], block)

    # Then it is refused, the dump is as it was, and no object was written
    assert (status, body["code"]) == (413, "PayloadTooLarge"), body
    assert dump_objects(stack) == before
    assert operator(stack, "get_dump", dev.id, created["id"])[1]["data"]["length"] == 2 * MAX_PART_BYTES
    # and a part that still fits is taken
    assert append(stack, dev, created["id"], b"z" * (2 * 1024 * 1024))[1]["length"] == 10 * 1024 * 1024


def test_a_dump_has_at_most_1000_parts(stack: Stack, dev: XyteDevice) -> None:
    created = send(stack, dev, b"a")[1]
    boto3.client("dynamodb").update_item(
        TableName=stack.table("DevicesTable"),
        Key={"pk": {"S": f"DEVICE#{dev.id}"}, "sk": {"S": f"DUMP#{created['id']}"}},
        UpdateExpression="SET partCount = :n",
        ExpressionAttributeValues={":n": {"N": str(MAX_PARTS)}},
    )
    before = dump_objects(stack)

    status, body = append(stack, dev, created["id"], b"b")

    assert (status, body["code"]) == (413, "PayloadTooLarge") and "1000 parts" in body["error"]
    assert dump_objects(stack) == before


def test_an_append_that_loses_the_last_room_to_another_removes_its_part(
    stack: Stack, dev: XyteDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a dump with room for one more 4 MiB part, and an append that read it before a concurrent
    # append took that room
    block = b"y" * MAX_PART_BYTES
    created = send(stack, dev, block)[1]
    stale = xyte_files._dumps().get(dev.id, created["id"])
    assert append(stack, dev, created["id"], block)[0] == 200
    before = dump_objects(stack)
    real, reads = xyte_files.DumpRepository.get, [stale]

    def first_read_stale(self: Any, device_id: str, dump_id: str) -> Any:
        return reads.pop() if reads else real(self, device_id, dump_id)

    monkeypatch.setattr(xyte_files.DumpRepository, "get", first_read_stale)

    # When the late append reaches DynamoDB's condition
    with pytest.raises(Exception) as refused:
        xyte_files.append_dump(_caller(dev), created["id"], b"z" * (3 * 1024 * 1024))

    # Then it is refused as too large and its object is gone, version and all
    assert type(refused.value).__name__ == "PayloadTooLarge"
    assert dump_objects(stack) == before


def _caller(who: XyteDevice) -> Any:
    from fleetgate.services import xyte  # noqa: PLC0415

    return xyte.authenticate(who.key, who.id)


def test_another_devices_dump_is_404_and_unchanged(stack: Stack, dev: XyteDevice) -> None:
    other = make_device(dev.model_id, "cloud-2")
    theirs = send(stack, other, b"theirs")[1]["id"]
    before = dump_objects(stack)

    for dump_id in (theirs, DUMP, "not-a-dump", "x" * 2000):
        status, body = append(stack, dev, dump_id, b"mine")
        assert (status, body["code"]) == (404, "NotFound"), (dump_id, body)
    assert operator(stack, "get_dump", dev.id, theirs)[0] == 404
    assert dump_objects(stack) == before
    assert downloaded(stack, other, theirs) == b"theirs"
    assert operator(stack, "list_dumps", dev.id)[1]["count"] == 0


def test_keys_open_their_own_device_only(stack: Stack, dev: XyteDevice) -> None:
    other = make_device(dev.model_id, "cloud-2")

    assert send(stack, dev, key="not-a-key")[0] == 401
    assert send(stack, dev, key=other.key) == (
        403,
        {"error": "This access key belongs to another device", "code": "Forbidden"},
    )
    assert dump_items(stack) == [] and dump_objects(stack) == []


def test_operator_dump_routes_refuse_what_is_no_xyte_device(stack: Stack) -> None:
    assert operator(stack, "list_dumps", "8f14e45f-ceea-467f-a0e6-1a6b8c3b5a11")[0] == 404
    assert operator(stack, "list_dumps", "not-a-device")[0] == 404
    assert operator(stack, "get_dump", "not-a-device")[0] == 404


def test_the_operator_lists_dumps_newest_first_in_pages(stack: Stack, dev: XyteDevice) -> None:
    ids = [send(stack, dev, f"dump {i}".encode())[1]["id"] for i in range(3)]

    status, page = operator(stack, "list_dumps", dev.id, query={"limit": "2"})
    rest = operator(stack, "list_dumps", dev.id, query={"limit": "2", "nextToken": page["nextToken"]})[1]

    assert status == 200
    assert [d["id"] for d in page["data"] + rest["data"]] == sorted(ids, reverse=True)
    assert operator(stack, "list_dumps", dev.id, query={"nextToken": "garbage"})[0] == 400


def test_dumps_go_with_their_device(stack: Stack, dev: XyteDevice) -> None:
    from fleetgate.services import devices  # noqa: PLC0415

    send(stack, dev)
    devices.delete(dev.id)

    assert dump_items(stack) == []


def test_aws_calls_per_request(stack: Stack, dev: XyteDevice) -> None:
    """The figures of docs/xyte-files.md."""
    send(stack, dev)  # warm
    with recorded_aws_calls() as calls:
        created = send(stack, dev)[1]
    sent = [c.operation for c in calls]
    with recorded_aws_calls() as calls:
        append(stack, dev, created["id"])
    appended = [c.operation for c in calls]

    with recorded_aws_calls() as calls:
        append(stack, dev, "[object Object]")
    aliased = [c.operation for c in calls]
    with recorded_aws_calls() as calls:
        operator(stack, "get_dump", dev.id, created["id"])
    read = [c.operation for c in calls]
    with recorded_aws_calls() as calls:
        operator(stack, "list_dumps", dev.id)
    listed = [c.operation for c in calls]

    assert sent == ["GetItem", "GetItem", "PutObject", "PutItem"]
    assert appended == ["GetItem", "GetItem", "GetItem", "PutObject", "UpdateItem"]
    assert aliased == ["GetItem", "GetItem", "Query", "PutObject", "UpdateItem"]
    assert read == ["GetItem"]  # the presigned URLs are no calls
    assert listed == ["GetItem", "Query"]


# --------------------------------------------------------------------------- least privilege
@pytest.mark.parametrize(
    ("function", "action", "attributes"),
    [
        (
            SEND,
            "dynamodb:PutItem",
            {
                "pk",
                "sk",
                "id",
                "mimeType",
                "filename",
                "createdAt",
                "updatedAt",
                "length",
                "partCount",
                "parts",
            },
        ),
        (APPEND, "dynamodb:UpdateItem", {"pk", "sk", "updatedAt", "length", "partCount", "parts"}),
    ],
)
def test_dump_functions_may_write_only_dump_items(
    stack: Stack, function: str, action: str, attributes: set[str]
) -> None:
    """The registry writes the dump functions may make: their item's attributes, under DEVICE# keys;
    every attribute the repository writes must be among them (or DynamoDB would refuse the write)."""
    policies = stack.template.resources()[function]["Properties"]["Policies"]
    [statement] = [s for p in policies if "Statement" in p for s in p["Statement"] if s["Action"] == [action]]

    assert statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["DEVICE#*"]
    assert set(statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]) == attributes
    assert not {"tokenHash", "modelId", "apiVersion"} & attributes  # nothing of a device or its Xyte record
