"""OTA rules without AWS: package validation, checksums as ThingsBoard writes them, verification of
uploaded bytes, the shared attributes of an assignment, and ThingsBoard's chunking with our limit."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetgate.domain.ota import (
    MAX_RESPONSE_BYTES,
    READY,
    OtaPackage,
    checksum_of,
    chunk_range,
    new_hasher,
    new_package,
    shared_attributes,
)
from fleetgate.errors import Conflict, InvalidRequest, PayloadTooLarge
from fleetgate.http import response

NOW = 1_700_000_000_000
LAMBDA_RESPONSE_LIMIT = 6_291_556  # bytes: "exceeded maximum allowed payload size (6291556 bytes)"


def package(**overrides: object) -> OtaPackage:
    fields: dict = {"package_type": "FIRMWARE", "title": "fw", "version": "1.0", "now_ms": NOW} | overrides
    return new_package(
        fields.pop("package_type"), fields.pop("title"), fields.pop("version"), fields.pop("now_ms"), **fields
    )


# --------------------------------------------------------------------------- packages
def test_a_new_package_is_pending_with_thingsboard_defaults() -> None:
    created = package()

    assert created.status == "PENDING"
    assert created.checksum_algorithm == "SHA256"
    assert created.content_type == "application/octet-stream"
    assert created.file_name == "firmware.bin"
    assert package(package_type="SOFTWARE").file_name == "software.bin"
    assert created.object_key == f"ota/{created.id}"
    assert created.checksum is None and created.size is None


def test_algorithm_names_and_checksums_are_normalised() -> None:
    created = package(checksum_algorithm="md5", checksum="A" * 32)

    assert created.checksum_algorithm == "MD5"
    assert created.checksum == "a" * 32


@pytest.mark.parametrize(
    "overrides",
    [
        {"package_type": "firmware"},
        {"title": ""},
        {"title": "   "},
        {"title": "a/b"},
        {"title": "a\\b"},
        {"title": "."},
        {"title": ".."},
        {"title": "fw\x00"},
        {"title": "x" * 256},
        {"version": ""},
        {"version": "1\n"},
        {"content_type": "octet-stream"},
        {"content_type": "text/plain; charset=utf-8"},
        {"file_name": "a b.bin"},
        {"file_name": 'a".bin'},
        {"file_name": "dir/a.bin"},
        {"file_name": "..."},
        {"checksum_algorithm": "SHA1"},
        {"checksum_algorithm": "MURMUR3_32"},
        {"checksum": "0" * 63},
        {"checksum_algorithm": "CRC32", "checksum": "0" * 64},
        {"checksum": "g" * 64},
        {"size": 0},
        {"size": 512 * 2**20 + 1},
    ],
)
def test_invalid_packages_are_refused(overrides: dict) -> None:
    with pytest.raises(InvalidRequest):
        package(**overrides)


def test_titles_and_versions_may_hold_spaces_and_unicode() -> None:
    created = package(title="Thermostat firmware (EU) ü ß", version="1.0 (beta)")

    assert created.title == "Thermostat firmware (EU) ü ß"


# --------------------------------------------------------------------------- checksums
@pytest.mark.parametrize("algorithm", ["SHA256", "SHA384", "SHA512", "MD5"])
def test_digests_are_lower_case_hex(algorithm: str) -> None:
    assert checksum_of(b"firmware", algorithm) == hashlib.new(algorithm.lower(), b"firmware").hexdigest()


def test_crc32_is_written_as_guava_writes_it() -> None:
    """Guava's HashCode.fromInt(0xCBF43926).toString() is the little-endian bytes: "2639f4cb"."""
    assert zlib.crc32(b"123456789") == 0xCBF43926
    assert checksum_of(b"123456789", "CRC32") == "2639f4cb"
    assert checksum_of(b"", "CRC32") == "00000000"


@given(
    st.binary(max_size=2000), st.integers(min_value=1, max_value=300), st.sampled_from(["SHA256", "CRC32"])
)
def test_hashing_in_blocks_equals_hashing_at_once(data: bytes, block: int, algorithm: str) -> None:
    hasher = new_hasher(algorithm)
    for start in range(0, len(data), block):
        hasher.update(data[start : start + block])

    assert hasher.hexdigest() == checksum_of(data, algorithm)


# --------------------------------------------------------------------------- verification
def test_matching_bytes_make_a_package_ready() -> None:
    data = b"firmware"
    declared = package(checksum=hashlib.sha256(data).hexdigest(), size=len(data))

    ready = declared.verified(len(data), checksum_of(data, "SHA256"), "v1", NOW + 5)

    assert ready.status == READY
    assert (ready.size, ready.object_version, ready.ready_at) == (8, "v1", NOW + 5)


def test_without_declarations_the_measured_values_are_taken() -> None:
    ready = package().verified(3, "ab" * 32, None, NOW)

    assert (ready.size, ready.checksum) == (3, "ab" * 32)


@pytest.mark.parametrize(
    ("declared", "size", "checksum", "error"),
    [
        ({"size": 9}, 8, "ab" * 32, InvalidRequest),
        ({"checksum": "ab" * 32}, 8, "cd" * 32, InvalidRequest),
        ({}, 0, "ab" * 32, InvalidRequest),
        ({}, 512 * 2**20 + 1, "ab" * 32, PayloadTooLarge),
    ],
)
def test_mismatching_bytes_are_refused(
    declared: dict, size: int, checksum: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        package(**declared).verified(size, checksum, None, NOW)


def test_a_ready_package_is_never_verified_again() -> None:
    ready = package().verified(3, "ab" * 32, None, NOW)

    with pytest.raises(Conflict):
        ready.verified(3, "ab" * 32, None, NOW)


# --------------------------------------------------------------------------- shared attributes
def test_an_assigned_package_sets_the_fw_attributes_and_removes_fw_url() -> None:
    ready = package(checksum_algorithm="SHA512").verified(42, "ab" * 64, None, NOW)

    assert shared_attributes("FIRMWARE", ready) == {
        "fw_title": "fw",
        "fw_version": "1.0",
        "fw_size": 42,
        "fw_checksum": "ab" * 64,
        "fw_checksum_algorithm": "SHA512",
        "fw_url": None,
    }


def test_no_package_removes_every_attribute_of_its_type() -> None:
    assert shared_attributes("SOFTWARE", None) == {
        "sw_title": None,
        "sw_version": None,
        "sw_size": None,
        "sw_checksum": None,
        "sw_checksum_algorithm": None,
        "sw_url": None,
    }


# --------------------------------------------------------------------------- chunks
@pytest.mark.parametrize(
    ("length", "size", "chunk", "expected"),
    [
        (1028, 0, 0, (0, 1028)),
        (1028, 0, 5, (0, 1028)),  # size < 1: chunk is ignored
        (1028, 300, 0, (0, 300)),
        (1028, 300, 3, (900, 1028)),
        (1028, 300, 4, (1028, 1028)),  # past the end: empty
        (1028, 300, 10**9, (1028, 1028)),
        (1028, 1028, 1, (1028, 1028)),
        (1028, 5000, 0, (0, 1028)),
    ],
)
def test_chunks_follow_thingsboard(length: int, size: int, chunk: int, expected: tuple[int, int]) -> None:
    assert chunk_range(length, size, chunk) == expected


@given(st.integers(min_value=1, max_value=100_000), st.integers(min_value=1, max_value=MAX_RESPONSE_BYTES))
def test_the_sdk_sequence_of_chunks_covers_the_package_once(length: int, chunk_size: int) -> None:
    """The SDK asks chunk = 0..ceil(length / chunk_size), one more than needed; that one is empty."""
    size = chunk_size if chunk_size < length else length
    ranges = [chunk_range(length, size, c) for c in range(math.ceil(length / chunk_size) + 1)]

    assert ranges[0][0] == 0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert ranges[-2][1] == length
    assert ranges[-1] == (length, length)


@pytest.mark.parametrize(
    ("length", "size"),
    [(MAX_RESPONSE_BYTES + 1, 0), (10 * 2**20, MAX_RESPONSE_BYTES + 1), (10 * 2**20, 10 * 2**20)],
)
def test_answers_beyond_the_limit_are_refused_on_every_chunk(length: int, size: int) -> None:
    for chunk in (0, 1, 100):
        with pytest.raises(PayloadTooLarge, match="chunks of at most 4194304 bytes"):
            chunk_range(length, size, chunk)


def test_the_limit_itself_is_served() -> None:
    assert chunk_range(MAX_RESPONSE_BYTES, 0, 0) == (0, MAX_RESPONSE_BYTES)
    assert chunk_range(MAX_RESPONSE_BYTES + 1, MAX_RESPONSE_BYTES, 1) == (
        MAX_RESPONSE_BYTES,
        MAX_RESPONSE_BYTES + 1,
    )


@pytest.mark.parametrize(("size", "chunk"), [(-1, 0), (0, -1)])
def test_negative_parameters_are_refused(size: int, chunk: int) -> None:
    with pytest.raises(InvalidRequest):
        chunk_range(10, size, chunk)


def test_a_full_chunk_fits_one_lambda_response() -> None:
    """4 MiB of bytes, base64-encoded in the response envelope with the OTA headers, stay under
    Lambda's 6 MB response limit with room to spare."""
    name = "f" * 255
    envelope = response(
        200,
        b"\xff" * MAX_RESPONSE_BYTES,
        content_type="application/octet-stream",
        headers={"content-disposition": f"attachment;filename={name}", "x-filename": name},
    )

    encoded = len(json.dumps(envelope).encode())

    assert encoded == 5_592_408 + len(json.dumps({**envelope, "body": ""}).encode())
    assert LAMBDA_RESPONSE_LIMIT - encoded > 600_000
