"""Deployment API keys, pure rules: permission matching, thing scoping, secret checks, validation."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from fleetgate.domain.apikeys import KEY_ID_PATTERN, Permission, hash_secret, new_api_key
from fleetgate.errors import InvalidRequest

NOW = 1_795_341_600_000


@pytest.mark.parametrize(
    ("permission", "method", "path", "allowed"),
    [
        (("POST", "/api/v1/thing-datas"), "POST", "/api/v1/thing-datas/events", True),
        (("POST", "/api/v1/thing-datas"), "post", "/api/v1/thing-datas/shadow/reported", True),
        (("POST", "/api/v1/thing-datas"), "GET", "/api/v1/thing-datas/t1/shadow", False),
        (("POST", "/api/v1/thing-datas"), "POST", "/api/v1/thing-datasets/events", False),
        (("POST", "/api/v1/thing-datas/"), "POST", "/api/v1/thing-datas/events", True),
        (("POST", "/api/v1/thing-datas"), "POST", "/api/v1/thing-datas", True),
        (("GET", "/api/v1/thing-datas/t1/shadow"), "GET", "/api/v1/thing-datas/t1/shadow", True),
        (("GET", "/api/v1/thing-datas/t1/shadow"), "GET", "/api/v1/thing-datas/t2/shadow", False),
        (("*", "/api/v1/thing-datas/jobs"), "POST", "/api/v1/thing-datas/jobs/j1/update", True),
        (("*", "/api/v1/thing-datas/jobs"), "POST", "/api/v1/thing-datas/events", False),
        (("*", "/"), "DELETE", "/anything/at/all", True),
    ],
)
def test_a_permission_is_a_method_and_a_whole_segment_path_prefix(
    permission: tuple[str, str], method: str, path: str, allowed: bool
) -> None:
    assert Permission(*permission).allows(method, path) is allowed


def test_a_new_key_has_a_public_id_and_a_secret_stored_only_as_a_digest() -> None:
    key, secret = new_api_key("fleet", [("post", "/api/v1/thing-datas")], None, NOW)

    assert KEY_ID_PATTERN.match(key.id)
    assert len(secret) == 32  # 24 random bytes
    assert len(base64.b64encode(f"{key.id}:{secret}".encode())) <= 76  # one line of `base64` output
    assert key.secret_hash == hash_secret(secret) != secret
    assert key.permissions == (Permission("POST", "/api/v1/thing-datas"),)
    assert key.verify(secret)
    assert not key.verify(secret + "x")
    assert not key.verify("")


def test_two_keys_never_share_an_id_or_a_secret() -> None:
    made = [new_api_key("k", [("POST", "/")], None, NOW) for _ in range(50)]

    assert len({k.id for k, _ in made}) == 50
    assert len({s for _, s in made}) == 50


def test_thing_scoping_limits_a_key_to_its_things() -> None:
    scoped, _ = new_api_key("k", [("POST", "/")], ["thermostat-001", "thermostat-002"], NOW)
    everything, _ = new_api_key("k", [("POST", "/")], None, NOW)

    assert scoped.may_touch("thermostat-001")
    assert not scoped.may_touch("thermostat-003")
    assert everything.may_touch("thermostat-003")


def test_a_revoked_key_verifies_nothing() -> None:
    key, secret = new_api_key("k", [("POST", "/")], None, NOW)

    assert not replace(key, revoked_at=NOW + 1).verify(secret)


@pytest.mark.parametrize(
    ("name", "permissions", "things", "message"),
    [
        ("", [("POST", "/a")], None, "name must be 1-128 characters"),
        ("x" * 129, [("POST", "/a")], None, "name must be 1-128 characters"),
        ("k", [], None, "permissions must list 1-32 entries"),
        ("k", [("POST", "/a")] * 33, None, "permissions must list 1-32 entries"),
        ("k", [("FETCH", "/a")], None, "permission method must be one of"),
        ("k", [("POST", "api/v1")], None, "permission path must be an absolute path"),
        ("k", [("POST", "/a b")], None, "permission path must be an absolute path"),
        ("k", [("POST", "/" + "a" * 256)], None, "permission path must be an absolute path"),
        ("k", [("POST", "/a")], [], "thingNames must list 1-1000 names"),
        ("k", [("POST", "/a")], ["bad name"], "is not a valid thing name"),
    ],
)
def test_invalid_keys_are_refused(
    name: str, permissions: list[tuple[str, str]], things: list[str] | None, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        new_api_key(name, permissions, things, NOW)
