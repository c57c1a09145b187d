"""Telemetry records (merge and latest values) and device records (names, types, labels, tokens)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid

import pytest

from fleetgate.domain.devices import DeviceIdentity, hash_token, new_device, new_token
from fleetgate.domain.telemetry import LatestValue, TelemetryRecord, latest_of, merge_by_timestamp
from fleetgate.errors import InvalidRequest

NOW_MS = 1_700_000_000_123
URL_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_-]{20}")


# --------------------------------------------------------------------------- merge_by_timestamp
def test_records_with_the_same_ts_are_merged_with_later_keys_winning():
    # Given two records at the same ts that share a key
    records = [TelemetryRecord(5, {"a": 1, "b": 1}), TelemetryRecord(5, {"b": 2, "c": 3})]

    # When they are merged
    merged = merge_by_timestamp(records)

    # Then there is one record and the later value of "b" wins
    assert merged == [TelemetryRecord(5, {"a": 1, "b": 2, "c": 3})]


def test_records_without_values_are_dropped():
    # Given an empty record between two others
    records = [TelemetryRecord(1, {"a": 1}), TelemetryRecord(2, {}), TelemetryRecord(3, {"b": 2})]

    # When they are merged
    merged = merge_by_timestamp(records)

    # Then the empty one is gone
    assert merged == [TelemetryRecord(1, {"a": 1}), TelemetryRecord(3, {"b": 2})]


def test_merged_records_are_sorted_by_ts():
    # Given records out of order
    records = [TelemetryRecord(30, {"a": 3}), TelemetryRecord(10, {"a": 1}), TelemetryRecord(20, {"a": 2})]

    # When they are merged
    merged = merge_by_timestamp(records)

    # Then they come out in ts order
    assert [r.ts for r in merged] == [10, 20, 30]


def test_merging_nothing_gives_nothing():
    # Given no records, or only empty ones
    # When they are merged
    # Then nothing comes out
    assert merge_by_timestamp([]) == []
    assert merge_by_timestamp([TelemetryRecord(1, {}), TelemetryRecord(2, {})]) == []


def test_merging_does_not_modify_the_input_records():
    # Given two records at the same ts
    first = TelemetryRecord(5, {"a": 1})
    second = TelemetryRecord(5, {"a": 2})

    # When they are merged
    merge_by_timestamp([first, second])

    # Then the inputs keep their values
    assert (first.values, second.values) == ({"a": 1}, {"a": 2})


# --------------------------------------------------------------------------- latest_of
def test_latest_of_picks_the_newest_ts_per_key():
    # Given records out of order, each key last written at a different time
    records = [
        TelemetryRecord(20, {"a": "a20", "b": "b20"}),
        TelemetryRecord(30, {"a": "a30"}),
        TelemetryRecord(10, {"a": "a10", "b": "b10", "c": "c10"}),
    ]

    # When the latest values are taken
    latest = latest_of(records)

    # Then each key has its newest value and that value's ts
    assert latest == {
        "a": LatestValue(30, "a30"),
        "b": LatestValue(20, "b20"),
        "c": LatestValue(10, "c10"),
    }


def test_latest_of_prefers_the_later_record_on_equal_ts():
    # Given two records at the same ts
    records = [TelemetryRecord(5, {"a": "first"}), TelemetryRecord(5, {"a": "second"})]

    # When the latest values are taken
    latest = latest_of(records)

    # Then the one that came later wins
    assert latest == {"a": LatestValue(5, "second")}


def test_latest_of_nothing_is_empty():
    # Given no records
    # When the latest values are taken
    # Then there are none
    assert latest_of([]) == {}


# --------------------------------------------------------------------------- device names
@pytest.mark.parametrize(
    "name",
    ["a", "thermostat-001", "A:b_c-9", "x" * 128, "0", "::__--"],
    ids=["one-char", "dashes-digits", "all-allowed-kinds", "128-chars", "digit", "punctuation-only"],
)
def test_valid_thing_names_are_accepted(name):
    # Given a name matching [a-zA-Z0-9:_-]{1,128}
    # When a device is created
    device, _ = new_device(name, None, None, NOW_MS)

    # Then it has that name
    assert device.name == name


@pytest.mark.parametrize(
    "name",
    ["", "x" * 129, "has space", "dot.name", "slash/name", "dollar$", "ünicode", "name\n", "\tname"],
    ids=["empty", "129-chars", "space", "dot", "slash", "dollar", "non-ascii", "trailing-newline", "tab"],
)
def test_invalid_thing_names_are_rejected(name):
    # Given a name outside AWS's thing-name rule
    # When a device is created
    with pytest.raises(InvalidRequest) as caught:
        new_device(name, None, None, NOW_MS)

    # Then the rule is explained
    assert caught.value.message == "name must be 1-128 characters of letters, digits, ':', '_' or '-'"


# --------------------------------------------------------------------------- device types and labels
def test_type_defaults_to_default():
    # Given no type
    # When a device is created
    device, _ = new_device("dev-1", None, None, NOW_MS)

    # Then its type is "default"
    assert device.type == "default"


@pytest.mark.parametrize("device_type", ["thermostat", "Type with spaces", "t" * 64])
def test_explicit_type_is_kept(device_type):
    # Given a printable type of 1-64 characters
    # When a device is created
    device, _ = new_device("dev-1", device_type, None, NOW_MS)

    # Then it has that type
    assert device.type == device_type


@pytest.mark.parametrize("device_type", ["", "t" * 65, "bad\ntype"], ids=["empty", "65-chars", "control"])
def test_invalid_type_is_rejected(device_type):
    # Given an empty, over-long or control-character type
    # When a device is created
    with pytest.raises(InvalidRequest) as caught:
        new_device("dev-1", device_type, None, NOW_MS)

    # Then the rule is explained
    assert caught.value.message == "type must be 1-64 printable characters"


@pytest.mark.parametrize("label", [None, "", "Kitchen", "l" * 256])
def test_label_up_to_256_characters_is_kept(label):
    # Given no label or a label of at most 256 characters
    # When a device is created
    device, _ = new_device("dev-1", None, label, NOW_MS)

    # Then it has that label
    assert device.label == label


def test_label_over_256_characters_is_rejected():
    # Given a 257-character label
    # When a device is created
    with pytest.raises(InvalidRequest) as caught:
        new_device("dev-1", None, "l" * 257, NOW_MS)

    # Then the limit is explained
    assert caught.value.message == "label must be at most 256 characters"


def test_new_device_has_a_random_uuid_and_the_creation_time():
    # Given a creation time
    # When two devices with the same name are created
    first, _ = new_device("dev-1", None, None, NOW_MS)
    second, _ = new_device("dev-1", None, None, NOW_MS)

    # Then each has its own version-4 UUID and the given creation time
    assert uuid.UUID(first.id).version == 4
    assert first.id != second.id
    assert first.created_at == NOW_MS


def test_identity_carries_id_name_and_type():
    # Given a device
    device, _ = new_device("dev-1", "sensor", "Kitchen", NOW_MS)

    # When its identity is taken
    identity = device.identity

    # Then it holds the id, the name and the type
    assert identity == DeviceIdentity(device.id, "dev-1", "sensor")


# --------------------------------------------------------------------------- tokens
def test_token_is_20_url_safe_characters():
    # Given nothing
    # When a token is generated
    token = new_token()

    # Then it is 20 URL-safe characters
    assert URL_SAFE_TOKEN.fullmatch(token)


def test_tokens_differ_each_time():
    # Given nothing
    # When 200 tokens are generated
    tokens = {new_token() for _ in range(200)}

    # Then all are different
    assert len(tokens) == 200


def test_hash_token_is_sha256_hex():
    # Given the SHA-256 test vector "abc"
    # When it is hashed
    digest = hash_token("abc")

    # Then it is the standard digest in lower-case hex
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_hash_token_hashes_the_utf8_bytes():
    # Given a non-ASCII token
    # When it is hashed
    digest = hash_token("tök")

    # Then it is the digest of its UTF-8 encoding
    assert digest == hashlib.sha256("tök".encode()).hexdigest()


def test_new_device_returns_a_fresh_token_and_stores_only_its_hash():
    # Given a new device
    # When it is created
    device, token = new_device("dev-1", None, None, NOW_MS)

    # Then the token is well formed, the device holds its hash, and no field holds the token
    assert URL_SAFE_TOKEN.fullmatch(token)
    assert device.token_hash == hash_token(token)
    assert token not in dataclasses.astuple(device)
    assert all(token not in str(v) for v in dataclasses.astuple(device))


def test_each_new_device_gets_its_own_token():
    # Given two devices created alike
    # When they are created
    _, first = new_device("dev-1", None, None, NOW_MS)
    _, second = new_device("dev-1", None, None, NOW_MS)

    # Then their tokens differ
    assert first != second
