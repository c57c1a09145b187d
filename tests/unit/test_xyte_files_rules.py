"""The pure rules of Xyte files and dumps: Send Dump's path tail, multipart bodies, dump ids that sort
by time, and which files may be created or made the latest firmware."""

from __future__ import annotations

import pytest

from fleetgate.dialects.xyte.files import dump_body
from fleetgate.domain.xyte_files import (
    check_dump_id,
    check_latest,
    dump_target,
    is_uuid,
    new_dump_id,
    new_file,
)
from fleetgate.errors import InvalidRequest
from fleetgate.http import HttpRequest
from fleetgate.multipart import field as multipart_field


def test_the_agents_path_tail_gives_its_mime_type_and_file_name() -> None:
    assert dump_target("text/txt/agent.log") == ("text/txt", "agent.log")
    assert dump_target("Application/Vnd.Api+JSON/state-1.json") == (
        "application/vnd.api+json",
        "state-1.json",
    )


@pytest.mark.parametrize(
    "tail",
    [
        "agent.log",
        "text/agent.log",
        "text/plain/a/b",
        "text/plain/..",
        "text/plain/...",
        "text/plain/a b",
        "text/plain/a%2Fb",
        "text/plain/",
        "/plain/x",
        "text//x",
        "te xt/plain/x",
        "text/plain;q=1/x",
    ],
)
def test_a_tail_without_a_mime_type_and_one_safe_file_name_is_refused(tail: str) -> None:
    with pytest.raises(InvalidRequest):
        dump_target(tail)


def test_dump_ids_are_uuidv7_and_sort_by_creation_time() -> None:
    ids = [new_dump_id(ms) for ms in (1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000)]

    assert ids == sorted(ids) and len(set(ids)) == 3
    assert all(check_dump_id(i) == i for i in ids)
    assert check_dump_id(ids[0].upper()) == ids[0]
    assert check_dump_id("8f14e45f-ceea-467f-a0e6-1a6b8c3b5a11") == ""  # a v4 UUID is none of ours
    assert check_dump_id("[object Object]") == ""


def test_ids_are_lower_case_uuids() -> None:
    assert is_uuid("8f14e45f-ceea-467f-a0e6-1a6b8c3b5a11")
    assert not is_uuid("8F14E45F-CEEA-467F-A0E6-1A6B8C3B5A11") and not is_uuid("x" * 36)


BODY = (
    b"preamble\r\n--B\r\n"
    b'Content-Disposition: form-data; name="data"; filename="a.log"\r\n\r\n'
    b"line 1\r\n--not the boundary\r\n\r\n"
    b"--B--\r\nepilogue"
)


def test_the_data_field_of_a_multipart_body_is_the_dump() -> None:
    assert (
        multipart_field(BODY, "multipart/form-data; boundary=B", "data")
        == b"line 1\r\n--not the boundary\r\n"
    )
    request = HttpRequest(
        "POST", "", "", {}, {}, {"content-type": 'Multipart/Form-Data; boundary="B"'}, BODY, ""
    )
    assert dump_body(request) == b"line 1\r\n--not the boundary\r\n"


def test_any_other_content_type_is_the_raw_file() -> None:
    request = HttpRequest("POST", "", "", {}, {}, {"content-type": "text/plain"}, BODY, "")
    assert dump_body(request) == BODY


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (BODY, "multipart/form-data"),  # no boundary
        (BODY, "multipart/form-data; boundary=C"),  # another boundary
        (BODY.replace(b"--B--", b"--B"), "multipart/form-data; boundary=B"),  # never closed
        (BODY.replace(b"\r\n\r\nline", b"\r\nline"), "multipart/form-data; boundary=B"),  # no header end
        (BODY.replace(b'name="data"', b'name="other"'), "multipart/form-data; boundary=B"),
    ],
)
def test_a_malformed_multipart_body_is_refused(body: bytes, content_type: str) -> None:
    with pytest.raises(InvalidRequest):
        multipart_field(body, content_type, "data")


def test_a_firmware_version_is_semver_from_1_0_4_and_other_files_are_free() -> None:
    def make(api: str, **fields: object) -> object:
        return new_file("m", api, 0, **{"name": "n", "file_type": "firmware", "version": "1.2.3", **fields})

    make("1.0.4")
    make("1.0.3", version="build 7")
    make("1.0.7", file_type="manual", version="build 7")
    with pytest.raises(InvalidRequest, match="SemVer"):
        make("1.0.4", version="build 7")


def test_only_a_semver_firmware_file_can_be_the_latest_of_a_1_0_4_model() -> None:
    old = new_file("m", "1.0.3", 0, name="n", file_type="firmware", version="r7")
    manual = new_file("m", "1.0.7", 0, name="n", file_type="manual", version="1.0.0")

    check_latest(old, "1.0.3")
    with pytest.raises(InvalidRequest, match="SemVer"):
        check_latest(old, "1.0.4")  # the model moved to 1.0.4 after the file was made
    with pytest.raises(InvalidRequest, match="firmware"):
        check_latest(manual, "1.0.7")
