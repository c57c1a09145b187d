"""Domain rules of device profiles, provisioning requests, claiming and salted secret hashes (no AWS)."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest

from fleetgate.contracts.thingsboard import TbClaimRequest
from fleetgate.dialects.thingsboard.provisioning import parse_provision_request
from fleetgate.domain import passwords
from fleetgate.domain.claims import (
    DEFAULT_DURATION_MS,
    ClaimRequest,
    open_window,
    parse_device_claim,
)
from fleetgate.domain.profiles import (
    CredentialsType,
    MqttBasic,
    Strategy,
    hash_secret,
    new_profile,
    random_device_name,
)
from fleetgate.errors import InvalidRequest
from fleetgate.jsonutil import loads_lenient

KEYS = {"provisionDeviceKey": "k", "provisionDeviceSecret": "s"}


# --------------------------------------------------------------------------- salted slow hashes
def test_secret_hashes_are_salted_and_verify() -> None:
    first, second = passwords.hash_secret("pw"), passwords.hash_secret("pw")

    assert first != second
    assert first.startswith("scrypt$16384$8$1$")
    assert passwords.verify_secret("pw", first)
    assert passwords.verify_secret("pw", second)
    assert not passwords.verify_secret("pW", first)
    assert not passwords.verify_secret("", first)


def test_the_empty_secret_is_a_secret_too() -> None:
    encoded = passwords.hash_secret("")

    assert passwords.verify_secret("", encoded)
    assert not passwords.verify_secret(" ", encoded)


@pytest.mark.parametrize("encoded", ["", "plain", "md5$1$2$3$4$5", "scrypt$x$8$1$AA$AA", "scrypt$16384$8$1"])
def test_a_malformed_hash_never_matches(encoded: str) -> None:
    assert not passwords.verify_secret("pw", encoded)


# --------------------------------------------------------------------------- profiles
def test_new_profile_generates_key_and_secret_and_keeps_only_the_digest() -> None:
    profile, secret = new_profile("thermostats", "ALLOW_CREATE_NEW_DEVICES", None, 1000)

    assert len(profile.provision_key) == 20
    assert len(secret) == 20
    assert profile.secret_hash == hash_secret(secret) != secret
    assert profile.strategy is Strategy.ALLOW_CREATE_NEW_DEVICES
    assert profile.secret_matches(secret)
    assert not profile.secret_matches(secret + "x")
    assert (profile.created_at, profile.updated_at, profile.version) == (1000, 1000, 1)


@pytest.mark.parametrize(
    ("name", "strategy", "key"),
    [
        ("", "DISABLED", None),
        (" lead", "DISABLED", None),
        ("trail ", "DISABLED", None),
        ("x" * 65, "DISABLED", None),
        ("ok", "disabled", None),
        ("ok", "DISABLED", "with space"),
        ("ok", "DISABLED", "x" * 129),
        ("ok", "DISABLED", "tab\there"),
    ],
)
def test_invalid_profiles_are_rejected(name: str, strategy: str, key: str | None) -> None:
    with pytest.raises(InvalidRequest):
        new_profile(name, strategy, key, 0)


def test_strategy_and_secret_changes_bump_the_version() -> None:
    profile, _ = new_profile("p", "DISABLED", "key", 1)

    changed = profile.with_strategy(Strategy.CHECK_PRE_PROVISIONED_DEVICES, 5).with_secret_hash("h", 9)

    assert changed.version == 3
    assert changed.strategy is Strategy.CHECK_PRE_PROVISIONED_DEVICES
    assert (changed.secret_hash, changed.updated_at, changed.created_at) == ("h", 9, 1)


def test_random_device_names_are_twenty_letters_and_digits() -> None:
    names = {random_device_name() for _ in range(50)}

    assert len(names) == 50
    assert all(len(n) == 20 and set(n) <= set(string.ascii_letters + string.digits) for n in names)


# --------------------------------------------------------------------------- provision requests
def test_absent_fields_read_as_empty_and_access_token_by_default() -> None:
    request = parse_provision_request(dict(KEYS))

    assert request.device_name == ""
    assert request.credentials_type is CredentialsType.ACCESS_TOKEN
    assert (request.token, request.client_id, request.username, request.password) == ("", "", "", "")
    assert request.gateway is False
    assert not request.has_credentials


def test_values_are_read_as_gson_reads_them() -> None:
    payload = loads_lenient(
        "{deviceName: 42, provisionDeviceKey: 1.50, provisionDeviceSecret: true, gateway: 'True'}",
        keep_number_literals=True,
    )

    request = parse_provision_request(payload)

    assert (request.device_name, request.provision_key, request.provision_secret) == ("42", "1.50", "true")
    assert request.gateway is True


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("yes", False), (1, False)])
def test_gateway_flag_follows_getasboolean(value: Any, expected: bool) -> None:
    assert parse_provision_request({**KEYS, "gateway": value}).gateway is expected


@pytest.mark.parametrize("field", ["token", "hash", "clientId", "username", "password"])
def test_any_credential_field_means_credentials_were_requested(field: str) -> None:
    assert parse_provision_request({**KEYS, field: "x"}).has_credentials


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        None,
        {"provisionDeviceKey": "k"},
        {"provisionDeviceSecret": "s"},
        {**KEYS, "provisionDeviceKey": None},
        {**KEYS, "deviceName": {"a": 1}},
        {**KEYS, "deviceName": ["a"]},
        {**KEYS, "credentialsType": "PSK"},
        {**KEYS, "credentialsType": "access_token"},
        {**KEYS, "credentialsType": None},
        {**KEYS, "gateway": None},
        {**KEYS, "gateway": {}},
        {**KEYS, "username": "u" * 257},
    ],
)
def test_what_thingsboard_answers_with_500_is_invalid(payload: Any) -> None:
    with pytest.raises(InvalidRequest):
        parse_provision_request(payload)


def test_a_long_certificate_is_not_cut_by_the_field_limit() -> None:
    request = parse_provision_request({**KEYS, "credentialsType": "X509_CERTIFICATE", "hash": "c" * 5000})

    assert request.credentials_type is CredentialsType.X509_CERTIFICATE
    assert len(request.cert_hash) == 5000


@pytest.mark.parametrize(
    ("client_id", "user_name", "password", "valid"),
    [
        ("c", "", "", True),
        ("", "u", "", True),
        ("", "u", "p", True),
        ("c", "u", "p", True),
        ("", "", "", False),
        ("", "", "p", False),
        ("c", "", "p", False),
    ],
)
def test_mqtt_basic_rules_are_thingsboards(
    client_id: str, user_name: str, password: str, valid: bool
) -> None:
    credentials = MqttBasic(client_id, user_name, password)

    if valid:
        credentials.check()
    else:
        with pytest.raises(InvalidRequest):
            credentials.check()


# --------------------------------------------------------------------------- claiming
@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({}, ClaimRequest("", DEFAULT_DURATION_MS)),
        ({"secretKey": "abc"}, ClaimRequest("abc", DEFAULT_DURATION_MS)),
        ({"durationMs": 5000}, ClaimRequest("", 5000)),
        ({"durationMs": "5000"}, ClaimRequest("", 5000)),
        ({"durationMs": "+5000"}, ClaimRequest("", 5000)),
        ({"durationMs": "-5000"}, ClaimRequest("", DEFAULT_DURATION_MS)),
        ({"durationMs": 0}, ClaimRequest("", DEFAULT_DURATION_MS)),
        ({"durationMs": -1}, ClaimRequest("", DEFAULT_DURATION_MS)),
        ({"secretKey": 123, "durationMs": 1}, ClaimRequest("123", 1)),
        ({"secretKey": False}, ClaimRequest("false", DEFAULT_DURATION_MS)),
        ({"unknown": 1}, ClaimRequest("", DEFAULT_DURATION_MS)),
    ],
)
def test_device_claim_bodies(payload: dict[str, Any], expected: ClaimRequest) -> None:
    assert parse_device_claim(payload) == expected


def test_integral_number_literals_are_durations() -> None:
    payload = loads_lenient('{"durationMs": 6.0E4}', keep_number_literals=True)

    assert parse_device_claim(payload).duration_ms == 60000


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "x",
        {"secretKey": None},
        {"secretKey": [1]},
        {"secretKey": "s" * 1025},
        {"durationMs": None},
        {"durationMs": True},
        {"durationMs": "1.5"},
        {"durationMs": "NaN"},
        {"durationMs": ""},
        {"durationMs": " 5000"},
        {"durationMs": "5e3"},
        {"durationMs": "5000.0"},
        {"durationMs": 2**63},
        {"durationMs": 365 * DEFAULT_DURATION_MS + 1},
    ],
)
def test_bad_device_claim_bodies_are_invalid(payload: Any) -> None:
    with pytest.raises(InvalidRequest):
        parse_device_claim(payload)


def test_a_window_matches_its_secret_and_expires_after_its_duration() -> None:
    window = open_window("dev-1", ClaimRequest("abc", 1000), now_ms=5000)

    assert window.matches("abc")
    assert not window.matches("abd")
    assert "abc" not in window.secret_hash
    assert not window.expired(6000)
    assert window.expired(6001)
    assert window.window_id != open_window("dev-1", ClaimRequest("abc", 1000), 5000).window_id


@pytest.mark.parametrize(
    "text",
    [
        *(
            "0",
            "5000",
            "+5000",
            "-1",
            "007",
            str(365 * DEFAULT_DURATION_MS),
            str(365 * DEFAULT_DURATION_MS + 1),
        ),
        *(str(-(2**63) + 1), str(-(2**63)), "", " 1", "1.0", "5e3", "1_000", "\u0661", "--1", "+-1"),
    ],
)
def test_the_documented_duration_pattern_is_what_a_device_claim_accepts(text: str) -> None:
    # the OpenAPI document's string form of durationMs states exactly the parser's rule
    schema = TbClaimRequest.model_json_schema()["properties"]["durationMs"]["anyOf"][1]
    documented = re.search(schema["pattern"], text) is not None
    try:
        parse_device_claim({"durationMs": text})
        accepted = True
    except InvalidRequest:
        accepted = False

    assert documented == accepted
