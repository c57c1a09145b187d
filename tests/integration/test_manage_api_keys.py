"""Deployment API keys through the operator API (``/manage/v1/api-keys``) and the ThingDatas dialect's
authentication with them: Basic credentials, permissions, thing scoping, revocation."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import boto3
import pytest

from fleetgate.data.apikeys import ApiKeyRepository
from fleetgate.dialects import thingdatas
from fleetgate.domain.apikeys import ApiKey
from fleetgate.http import HttpRequest
from fleetgate.services import apikeys
from fleetgate.settings import get_settings
from fleetgate_local.inprocess import load_event
from tests.integration.conftest import (
    EVENTS,
    Stack,
    basic_auth,
    create_api_key,
    create_device,
    event,
    td_event,
    with_body,
    with_query,
)

MANAGE = "ManageApiKeysFunction"
KEY_PLACEHOLDER = "ak_A1_TEST_KEY_ID_000"


def create(stack: Stack, body: Any) -> tuple[int, Any]:
    raw = body if isinstance(body, str) else json.dumps(body)
    response = stack.invoke(MANAGE, with_body(event("manage/create_api_key"), raw))
    return response["statusCode"], json.loads(response["body"])


def addressed(stack: Stack, name: str, key_id: str) -> tuple[int, Any]:
    response = stack.invoke(
        MANAGE, load_event(EVENTS / "manage" / f"{name}.json", **{KEY_PLACEHOLDER: key_id})
    )
    return response["statusCode"], json.loads(response["body"])


def key_items(stack: Stack) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=stack.table("DevicesTable"))["Items"]
    return [i for i in items if i["pk"]["S"].startswith("APIKEY#")]


def probe(
    stack: Stack, auth: str | None, method: str = "POST", path: str = "/api/v1/thing-datas/events"
) -> Any:
    """Run the ThingDatas dialect around an endpoint that answers which key it was given."""
    ev = td_event("post_event", auth or "")
    if auth is None:
        del ev["headers"]["authorization"]
    ev["requestContext"]["http"]["method"] = method
    ev["rawPath"] = ev["requestContext"]["http"]["path"] = path

    def endpoint(request: HttpRequest, key: ApiKey) -> dict[str, Any]:
        return thingdatas.ok({"keyId": key.id, "path": request.path})

    with stack.functions.environment_of("TdPostEventFunction"):
        response = thingdatas.handle(ev, endpoint)
    return response["statusCode"], json.loads(response["body"]), response["headers"]


# --------------------------------------------------------------------------- operator API
def test_a_key_is_created_with_its_secret_shown_once_and_stored_as_a_digest(stack: Stack) -> None:
    status, body = create(
        stack,
        {
            "name": "thermostats",
            "permissions": [{"method": "post", "path": "/api/v1/thing-datas"}],
            "thingNames": ["thermostat-001"],
        },
    )

    assert status == 201
    data = body["data"]
    assert data["id"].startswith("ak_")
    assert data["permissions"] == [{"method": "POST", "path": "/api/v1/thing-datas"}]
    assert data["thingNames"] == ["thermostat-001"]
    assert data["status"] == "ACTIVE"
    [item] = key_items(stack)
    assert item["secretHash"]["S"] == hashlib.sha256(data["secret"].encode()).hexdigest()
    assert data["secret"] not in json.dumps(item)
    status, read = addressed(stack, "get_api_key", data["id"])
    assert status == 200
    assert "secret" not in read["data"]
    assert read["data"]["id"] == data["id"]


def test_keys_are_listed_without_secrets_and_paged(stack: Stack) -> None:
    for _ in range(3):
        create_api_key(stack)

    response = stack.invoke(MANAGE, with_query(event("manage/list_api_keys"), {"limit": "2"}))
    body = json.loads(response["body"])
    rest = stack.invoke(
        MANAGE, with_query(event("manage/list_api_keys"), {"limit": "2", "nextToken": body["nextToken"]})
    )

    assert response["statusCode"] == 200
    assert body["count"] == 2
    assert all("secret" not in k for k in body["data"])
    assert len(json.loads(rest["body"])["data"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        {"permissions": [{"method": "POST", "path": "/api/v1/thing-datas"}]},
        {"name": "k"},
        {"name": "k", "permissions": []},
        {"name": "k", "permissions": [{"method": "FETCH", "path": "/api/v1/thing-datas"}]},
        {"name": "k", "permissions": [{"method": "POST", "path": "api/v1"}]},
        {"name": "k", "permissions": [{"method": "POST"}]},
        {"name": "k", "permissions": [{"method": "POST", "path": "/a"}], "thingNames": []},
        {"name": "k", "permissions": [{"method": "POST", "path": "/a"}], "thingNames": ["no spaces"]},
        {"name": "k", "permissions": [{"method": "POST", "path": "/a"}], "secret": "mine"},
    ],
)
def test_invalid_key_requests_are_400_and_create_nothing(stack: Stack, body: Any) -> None:
    status, answer = create(stack, body)

    assert status == 400
    assert answer["error"]["code"] == 400
    assert key_items(stack) == []


def test_revoking_a_key_keeps_its_record_and_forgets_its_digest(stack: Stack) -> None:
    status, body = create(stack, {"name": "k", "permissions": [{"method": "POST", "path": "/"}]})
    key_id = body["data"]["id"]

    status, revoked = addressed(stack, "revoke_api_key", key_id)

    assert status == 200
    assert revoked["data"]["status"] == "REVOKED"
    assert "revokedAt" in revoked["data"]
    [item] = key_items(stack)
    assert "secretHash" not in item
    assert addressed(stack, "revoke_api_key", "ak_" + "x" * 20)[0] == 404
    assert addressed(stack, "get_api_key", "ak_" + "x" * 20)[0] == 404


# --------------------------------------------------------------------------- authentication
def test_a_valid_key_reaches_the_endpoint(stack: Stack) -> None:
    auth = create_api_key(stack)

    status, body, _ = probe(stack, auth)

    assert status == 200
    assert body["keyId"].startswith("ak_")


def _header(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "make_auth",
    [
        lambda key_id, secret: None,
        lambda key_id, secret: "",
        lambda key_id, secret: f"Bearer {secret}",
        lambda key_id, secret: "Basic",
        lambda key_id, secret: "Basic !!!not-base64!!!",
        lambda key_id, secret: _header(f"{key_id}{secret}"),
        lambda key_id, secret: _header(f"{key_id}:"),
        lambda key_id, secret: _header(f"{key_id}:{secret}x"),
        lambda key_id, secret: _header(f"ak_{'z' * 20}:{secret}"),
        lambda key_id, secret: _header(f"not-a-key-id:{secret}"),
        lambda key_id, secret: "Basic " + "A" * 600,
    ],
)
def test_missing_malformed_or_wrong_credentials_are_401(stack: Stack, make_auth: Any) -> None:
    auth = create_api_key(stack)
    key_id, secret = base64.b64decode(auth.split()[1]).decode().split(":", 1)

    status, body, headers = probe(stack, make_auth(key_id, secret))

    assert status == 401
    assert body["code"] == "Unauthorized"
    assert body["message"]
    assert headers["www-authenticate"].startswith("Basic")


def test_the_scheme_name_is_case_insensitive(stack: Stack) -> None:
    auth = create_api_key(stack)

    assert probe(stack, "basic " + auth.split()[1])[0] == 200


def test_a_key_without_the_method_or_path_is_403(stack: Stack) -> None:
    auth = create_api_key(stack, permissions=[{"method": "POST", "path": "/api/v1/thing-datas/events"}])

    assert probe(stack, auth, "POST", "/api/v1/thing-datas/events")[0] == 200
    status, body, _ = probe(stack, auth, "GET", "/api/v1/thing-datas/thermostat-001/shadow")
    assert (status, body["code"]) == (403, "Forbidden")
    assert probe(stack, auth, "POST", "/api/v1/thing-datas/jobs/get")[0] == 403


def test_a_key_scoped_to_things_may_touch_only_those(stack: Stack) -> None:
    create_device(stack, "thermostat-001")
    create_device(stack, "thermostat-002")
    auth = create_api_key(stack, thing_names=["thermostat-001"])
    key_id = base64.b64decode(auth.split()[1]).decode().split(":", 1)[0]
    with stack.functions.environment_of("TdPostEventFunction"):
        key = apikeys.get(key_id)

        assert thingdatas.thing(key, "thermostat-001").name == "thermostat-001"
        with pytest.raises(Exception, match="may not access thing 'thermostat-002'") as denied:
            thingdatas.thing(key, "thermostat-002")
        with pytest.raises(Exception, match="may not access thing 'ghost'") as unknown:
            thingdatas.thing(key, "ghost")  # 403 before 404: a key learns nothing of other things
    assert denied.value.status == unknown.value.status == 403


def test_an_unknown_thing_is_404_and_a_malformed_name_400(stack: Stack) -> None:
    auth = create_api_key(stack)
    key_id = base64.b64decode(auth.split()[1]).decode().split(":", 1)[0]
    with stack.functions.environment_of("TdPostEventFunction"):
        key = apikeys.get(key_id)
        for name, status in (("ghost", 404), ("bad name", 400), (42, 400), (None, 400), ("x" * 129, 400)):
            with pytest.raises(Exception) as raised:
                thingdatas.thing(key, name)
            assert raised.value.status == status, name  # type: ignore[attr-defined]


def test_a_revoked_key_stops_working_at_once_where_it_was_revoked(stack: Stack) -> None:
    auth = create_api_key(stack)
    key_id = base64.b64decode(auth.split()[1]).decode().split(":", 1)[0]
    assert probe(stack, auth)[0] == 200

    addressed(stack, "revoke_api_key", key_id)

    assert probe(stack, auth)[0] == 401


def test_other_warm_functions_drop_a_revoked_key_within_the_cache_time(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = create_api_key(stack)
    key_id = base64.b64decode(auth.split()[1]).decode().split(":", 1)[0]
    assert probe(stack, auth)[0] == 200  # now cached in this "function instance"
    ApiKeyRepository(stack.table("DevicesTable")).revoke(key_id, 1)  # revoked elsewhere

    still_cached = probe(stack, auth)[0]
    later = time.monotonic() + 31
    monkeypatch.setattr(time, "monotonic", lambda: later)
    after_cache_time = probe(stack, auth)[0]

    assert (still_cached, after_cache_time) == (200, 401)


def test_a_cache_time_of_zero_checks_the_registry_every_time(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = create_api_key(stack)
    key_id = base64.b64decode(auth.split()[1]).decode().split(":", 1)[0]
    with stack.functions.environment_of("TdPostEventFunction"):  # as if deployed with ApiKeyCacheSeconds=0
        monkeypatch.setenv("API_KEY_CACHE_SECONDS", "0")
        get_settings.cache_clear()
    assert probe(stack, auth)[0] == 200

    ApiKeyRepository(stack.table("DevicesTable")).revoke(key_id, 1)

    assert probe(stack, auth)[0] == 401


def test_basic_auth_helper_matches_the_seed_shape() -> None:
    # AUTH="Basic $(printf '%s:%s' 'ak_yourApiKey' 'your-api-secret' | base64)"
    assert basic_auth("ak_yourApiKey", "your-api-secret") == "Basic YWtfeW91ckFwaUtleTp5b3VyLWFwaS1zZWNyZXQ="
