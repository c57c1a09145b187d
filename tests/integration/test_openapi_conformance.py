"""The handlers answer what ``docs/openapi.json`` says: every route is driven in process against moto
with the events of ``events/``, and each answer's status must be one the document lists for the route,
its body must match that status's schema (JSON Schema 2020-12, the document's components resolved),
an empty body must be documented as empty, and the headers the document requires must be there.

Each dialect's walk ends by checking that every one of its routes gave at least one success answer,
and that errors were checked too; the checker itself is tested on answers that break the document."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests

from fleetgate_local.inprocess import load_event
from fleetgate_local.template import Template
from tests.integration.conftest import (
    AUTH_PLACEHOLDER,
    DEVICE_PLACEHOLDER,
    EVENTS,
    ROOT,
    TOKEN_PLACEHOLDER,
    Stack,
    basic_auth,
    with_body,
    with_query,
)
from tests.integration.xyte_files_walk import walk_xyte_files
from tests.openapi_conformance import DOC, NonConforming, conformance_problems

PACKAGE = "4c3e7a52-93f1-4d0e-9a77-1f0b6c2d8e90"
PROFILE = "d2b1f1c6-5a0e-4b8a-9a51-0c4f7e3b2a10"
RPC = "5b0c2a9e-7d41-4c8e-9a3f-2e6d1b7c4a90"
EXECUTION = "8d88790c-9171-4526-8637-e6d6168bce22"
GATEWAY = "5c1d9e2a-7b3f-4c8d-9e0a-1b2c3d4e5f60"  # the ThingsPro gateway of events/manage/
KEY = "ak_A1_TEST_KEY_ID_000"
THING = "thermostat-001"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


XYTE_OPERATOR_ROUTES = (
    "/manage/v1/xyte/devices/{id}/config",
    "/manage/v1/xyte/devices/{id}/commands",
    "/manage/v1/xyte/devices/{id}/licenses",
)


class Walk:
    """Invokes handlers with events from ``events/`` and checks every answer against the document."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.functions = {
            route.route_key: function.logical_id
            for function in stack.template.functions()
            for route in function.routes
        }
        self.replacements: dict[str, str] = {}
        self.answers: list[tuple[str, int]] = []

    def call(
        self,
        name: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        **replacements: str,
    ) -> tuple[int, Any]:
        event = load_event(EVENTS / f"{name}.json", **{**self.replacements, **replacements})
        if raw is not None:
            event = with_body(event, raw)
        elif body is not None:
            event = with_body(event, body if isinstance(body, str) else json.dumps(body))
        if query is not None:
            event = with_query(event, query)
        for header, value in (headers or {}).items():
            event["headers"][header] = value
        route_key = event["routeKey"]
        response = self.stack.invoke(self.functions[route_key], event)
        problems = conformance_problems(route_key, response)
        if problems:
            raise NonConforming(f"{route_key} {response['statusCode']}: {problems}")
        self.answers.append((route_key, response["statusCode"]))
        text = response.get("body") or ""
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        is_json = headers.get("content-type", "").startswith("application/json")
        return response["statusCode"], json.loads(text) if text and is_json else text

    def routes_of(self, tag: str) -> set[str]:
        return {
            f"{method.upper()} {path}"
            for path, item in DOC["paths"].items()
            for method, operation in item.items()
            if tag in operation["tags"]
        }

    def assert_covered(self, tag: str, errors: set[int], *, routes: set[str] | None = None) -> None:
        """Every route of ``tag`` (or of ``routes``) succeeded at least once, and each status of ``errors``
        was seen there."""
        routes = self.routes_of(tag) if routes is None else routes
        succeeded = {key for key, status in self.answers if status < 300}
        assert routes - succeeded == set()
        seen = {status for key, status in self.answers if key in routes}
        assert errors <= seen, sorted(errors - seen)


@pytest.fixture
def template() -> Template:
    """The template with moto's IoT data address as ``IotDataEndpoint``, so that commands are published
    (see tests/integration/test_thingdatas_commands.py)."""
    return Template.load(
        ROOT / "template.yaml", {"IotDataEndpoint": "https://data-ats.iot.us-east-1.amazonaws.com"}
    )


@pytest.fixture
def walk(stack: Stack) -> Walk:
    return Walk(stack)


def _operator_device(walk: Walk, name: str = THING) -> tuple[str, str]:
    status, created = walk.call("manage/create_device", {"name": name})
    assert status == 201, created
    data = created["data"]
    return data["id"], data["credentials"]["accessToken"]


def _api_key(walk: Walk, **extra: Any) -> str:
    body = {
        "name": "devices",
        "permissions": [
            {"method": "POST", "path": "/api/v1/thing-datas"},
            {"method": "GET", "path": "/api/v1/thing-datas"},
        ],
        **extra,
    }
    status, created = walk.call("manage/create_api_key", body)
    assert status == 201, created
    return basic_auth(created["data"]["id"], created["data"]["secret"])


# --------------------------------------------------------------------------- ThingsBoard
def test_thingsboard_answers_conform_to_the_document(walk: Walk) -> None:
    # Given a device, a READY firmware package assigned to it, and a profile to provision into
    device_id, token = _operator_device(walk)
    walk.replacements = {DEVICE_PLACEHOLDER: device_id, TOKEN_PLACEHOLDER: token}
    status, package = walk.call(
        "manage/create_ota_package", {"type": "FIRMWARE", "title": "fw", "version": "1"}
    )
    assert status == 201
    package_id = package["data"]["id"]
    walk.replacements[PACKAGE] = package_id
    assert walk.call("manage/upload_ota_package_data", raw=b"\x00firmware")[0] == 200
    assert walk.call("manage/put_device_ota", {"firmwareId": package_id})[0] == 200
    status, profile = walk.call(
        "manage/create_device_profile",
        {"name": "thermostats", "provisionStrategy": "ALLOW_CREATE_NEW_DEVICES"},
    )
    assert status == 201

    # When the device calls every route, well and badly
    assert walk.call("thingsboard/post_telemetry")[0] == 200
    assert walk.call("thingsboard/post_telemetry_with_ts")[0] == 200
    assert walk.call("thingsboard/post_telemetry", "[1]")[0] == 400
    assert walk.call("thingsboard/post_telemetry", "x" * 1_100_000)[0] == 413
    assert walk.call("thingsboard/post_telemetry", **{token: "not-a-token"})[0] == 401
    assert walk.call("thingsboard/post_attributes")[0] == 200
    assert walk.call("thingsboard/post_attributes", '"text"')[0] == 400
    assert walk.call("manage/put_shared_attributes", {"interval": 60})[0] == 200
    assert walk.call("thingsboard/get_attributes")[0] == 200
    assert walk.call("thingsboard/get_attributes", query={"sharedKeys": "interval"})[0] == 200
    assert walk.call("thingsboard/get_attribute_updates")[0] == 200
    assert walk.call("thingsboard/get_attribute_updates", query={"timeout": "1"})[0] == 408
    assert walk.call("thingsboard/get_attribute_updates", query={"timeout": "soon"})[0] == 400
    assert walk.call("thingsboard/get_rpc")[0] == 408
    assert walk.call("manage/send_persistent_rpc")[0] == 200
    status, rpc = walk.call("thingsboard/get_rpc")
    assert status == 200, rpc
    assert rpc["id"] == 1  # the event's requestId
    assert walk.call("thingsboard/post_rpc_reply")[0] == 200
    assert walk.call("thingsboard/post_rpc_reply", "")[0] == 400
    assert walk.call("thingsboard/post_client_rpc")[0] == 200
    assert walk.call("thingsboard/post_client_rpc", {"method": "noSuchMethod"})[0] == 404
    assert walk.call("thingsboard/post_client_rpc", {"method": 7})[0] == 400
    firmware = {"title": "fw", "version": "1"}
    assert walk.call("thingsboard/get_firmware", query=firmware)[0] == 200
    assert walk.call("thingsboard/get_firmware", query={**firmware, "size": "4", "chunk": "9"})[0] == 200
    assert walk.call("thingsboard/get_firmware", query={"title": "fw"})[0] == 400
    assert walk.call("thingsboard/get_software", query=firmware)[0] == 404
    status, software = walk.call(
        "manage/create_ota_package", {"type": "SOFTWARE", "title": "app", "version": "2"}
    )
    assert status == 201
    software_id = software["data"]["id"]
    assert walk.call("manage/upload_ota_package_data", raw=b"app", **{package_id: software_id})[0] == 200
    assert walk.call("manage/put_device_ota", {"softwareId": software_id})[0] == 200
    assert walk.call("thingsboard/get_software", query={"title": "app", "version": "2"})[0] == 200
    assert walk.call("thingsboard/post_claim")[0] == 200
    assert walk.call("thingsboard/post_claim", "[]")[0] == 400
    provision = {
        "deviceName": "provisioned-1",
        "provisionDeviceKey": profile["data"]["provisionDeviceKey"],
        "provisionDeviceSecret": profile["data"]["provisionDeviceSecret"],
    }
    assert walk.call("thingsboard/provision", provision)[0] == 200
    assert walk.call("thingsboard/provision")[0] == 200  # NOT_FOUND, in ThingsBoard's 200
    assert walk.call("thingsboard/provision", {"deviceName": "x"})[0] == 400

    # Then every answer conformed (checked in walk.call), and every route succeeded once
    walk.assert_covered("ThingsBoard", {400, 401, 404, 408, 413})


# --------------------------------------------------------------------------- ThingDatas
def test_thingdatas_answers_conform_to_the_document(walk: Walk) -> None:
    # Given a thing, a device key, a key limited to other things, and a job for the thing
    device_id, _ = _operator_device(walk)
    auth = _api_key(walk)
    other = _api_key(walk, thingNames=["someone-else"])
    walk.replacements = {DEVICE_PLACEHOLDER: device_id, AUTH_PLACEHOLDER: auth}
    assert (
        walk.call(
            "manage/create_job",
            {"jobId": "firmware-2-0-0", "document": {"v": 2}, "targets": {"thingNames": [THING]}},
        )[0]
        == 201
    )

    # When the thing calls every route, well and badly
    status, accepted = walk.call("thingdatas/post_shadow_reported")
    assert status == 200, accepted
    assert walk.call("thingdatas/post_shadow_reported", query={"name": "firmware"})[0] == 200
    stale = {"thingName": THING, "state": {"reported": {"t": 1}}, "version": 99}
    assert walk.call("thingdatas/post_shadow_reported", stale)[0] == 409
    assert walk.call("thingdatas/post_shadow_reported", {"thingName": THING})[0] == 400
    assert walk.call("thingdatas/get_shadow")[0] == 200
    assert walk.call("thingdatas/get_shadow", query={"name": "nothing-here"})[0] == 404
    assert walk.call("thingdatas/get_shadow", headers={"authorization": "Basic bm8="})[0] == 401
    assert walk.call("thingdatas/get_shadow", headers={"authorization": other})[0] == 403
    assert (
        walk.call(
            "thingdatas/post_event", {"thingName": THING, "eventType": "boot", "timestamp": 1748390400000}
        )[0]
        == 200
    )
    assert walk.call("thingdatas/post_event", {"thingName": THING, "eventType": "boot", "extra": 1})[0] == 400
    assert (
        walk.call(
            "thingdatas/post_event", {"thingName": "nobody", "eventType": "b", "timestamp": 1748390400000}
        )[0]
        == 404
    )
    assert walk.call("thingdatas/post_event", "{" * 2_000_000)[0] == 413
    assert walk.call("thingdatas/post_command_response")[0] == 404
    status, command = walk.call("manage/send_command", {"action": "reboot"})
    assert status == 201, command
    answer = {"thingName": THING, "executionId": command["data"]["executionId"], "status": "SUCCEEDED"}
    assert walk.call("thingdatas/post_command_response", answer)[0] == 200
    assert walk.call("thingdatas/post_command_response", {**answer, "status": "FAILED"})[0] == 409
    assert walk.call("thingdatas/post_jobs_get")[0] == 200
    assert walk.call("thingdatas/post_job_get")[0] == 200
    assert walk.call("thingdatas/post_job_get", **{"firmware-2-0-0": "$next"})[0] == 200
    assert walk.call("thingdatas/post_jobs_start_next")[0] == 200
    assert (
        walk.call("thingdatas/post_jobs_start_next", {"thingName": THING, "stepTimeoutInMinutes": 0})[0]
        == 400
    )
    assert (
        walk.call(
            "thingdatas/post_job_update",
            {"thingName": THING, "status": "SUCCEEDED", "includeJobExecutionState": True},
        )[0]
        == 200
    )
    assert walk.call("thingdatas/post_job_update", {"thingName": THING, "status": "IN_PROGRESS"})[0] == 409
    assert walk.call("thingdatas/post_job_update", {"thingName": THING, "status": "QUEUED"})[0] == 400

    # Then every answer conformed, and every route succeeded once
    walk.assert_covered("ThingDatas", {400, 401, 403, 404, 409, 413})


# --------------------------------------------------------------------------- operator API
def _operator(stack: Stack) -> tuple[str, str]:
    idp = boto3.client("cognito-idp")
    pool = stack.provisioned.physical_ids["OperatorUserPool"]
    idp.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="alice", Password="Correct-horse-1", Permanent=True)
    return "alice", "Correct-horse-1"


def test_operator_answers_conform_to_the_document(stack: Stack, walk: Walk) -> None:
    name, password = _operator(stack)
    call: Callable[..., tuple[int, Any]] = walk.call

    # login
    assert call("manage/login", {"name": name, "password": password})[0] == 200
    assert call("manage/login", {"name": name, "password": "Wrong-password-1"})[0] == 401
    assert call("manage/login", {"name": ""})[0] == 400

    # devices, attributes, telemetry, claims
    device_id, token = _operator_device(walk)
    walk.replacements = {DEVICE_PLACEHOLDER: device_id, TOKEN_PLACEHOLDER: token}
    assert call("manage/create_device", {"name": THING})[0] == 409
    assert call("manage/list_devices")[0] == 200
    assert call("manage/list_devices", query={"limit": "0"})[0] == 400
    assert call("manage/get_device")[0] == 200
    assert call("manage/get_device", **{device_id: UNKNOWN_ID})[0] == 404
    status, regenerated = call("manage/regenerate_credentials")
    assert status == 200
    walk.replacements[TOKEN_PLACEHOLDER] = regenerated["data"]["credentials"]["accessToken"]
    assert call("manage/put_shared_attributes")[0] == 200
    assert call("manage/put_shared_attributes", {})[0] == 400
    assert call("manage/get_attributes")[0] == 200
    assert call("manage/delete_shared_attributes")[0] == 200
    assert call("thingsboard/post_telemetry")[0] == 200
    assert call("manage/get_telemetry")[0] == 200
    assert call("manage/get_latest_telemetry")[0] == 200
    assert call("thingsboard/post_claim", {"secretKey": "abc123"})[0] == 200
    assert call("manage/claim_device", {"deviceName": THING, "secretKey": "wrong"})[0] == 403
    assert call("thingsboard/post_claim", {"secretKey": "abc123"})[0] == 200  # a wrong secret used it up
    assert call("manage/claim_device", {"deviceName": THING, "secretKey": "abc123"})[0] == 200
    assert call("manage/release_device")[0] == 204
    assert call("manage/release_device")[0] == 409

    # RPC
    status, rpc = call("manage/send_persistent_rpc")
    assert status == 200, rpc
    walk.replacements[RPC] = rpc["data"]["rpcId"]
    assert call("manage/send_oneway_rpc")[0] == 200
    assert call("manage/send_rpc", {"method": ""})[0] == 400
    assert call("manage/get_rpc")[0] == 200
    assert call("manage/list_rpcs")[0] == 200
    assert call("manage/cancel_rpc")[0] == 200
    assert call("manage/cancel_rpc")[0] == 409

    # OTA packages and profiles
    status, package = call("manage/create_ota_package", {"type": "FIRMWARE", "title": "fw", "version": "1"})
    assert status == 201, package
    walk.replacements[PACKAGE] = package["data"]["id"]
    assert call("manage/get_ota_package")[0] == 200
    assert call("manage/complete_ota_package")[0] == 409
    assert call("manage/upload_ota_package_data", raw=b"firmware")[0] == 200
    status, second = call(
        "manage/create_ota_package", {"type": "SOFTWARE", "title": "app", "version": "1", "size": 3}
    )
    assert status == 201, second
    second_id = second["data"]["id"]
    assert requests.put(second["data"]["uploadUrl"], data=b"app", timeout=10).status_code == 200
    assert call("manage/complete_ota_package", **{package["data"]["id"]: second_id})[0] == 200
    assert call("manage/list_ota_packages")[0] == 200
    assert call("manage/put_device_ota", {"firmwareId": package["data"]["id"]})[0] == 200
    assert call("manage/get_device_ota")[0] == 200
    status, profile = call("manage/create_device_profile")
    assert status == 201, profile
    walk.replacements[PROFILE] = profile["data"]["id"]
    profile_path = {device_id: profile["data"]["id"]}
    assert call("manage/get_profile_ota")[0] == 200
    assert call("manage/put_profile_ota", {"firmwareId": package["data"]["id"]})[0] == 200
    assert call("manage/delete_ota_package")[0] == 409
    assert call("manage/delete_ota_package", **{package["data"]["id"]: second_id})[0] == 204
    assert call("manage/list_device_profiles")[0] == 200
    assert call("manage/get_device_profile", **profile_path)[0] == 200
    assert call("manage/update_device_profile", **profile_path)[0] == 200
    assert call("manage/rotate_provision_secret", **profile_path)[0] == 200
    assert call("manage/list_device_profile_devices", **profile_path)[0] == 200
    assert call("manage/delete_device_profile", **profile_path)[0] == 204

    # API keys
    status, key = call("manage/create_api_key")
    assert status == 201, key
    walk.replacements[KEY] = key["data"]["id"]
    assert call("manage/list_api_keys")[0] == 200
    assert call("manage/get_api_key")[0] == 200
    assert call("manage/revoke_api_key")[0] == 200

    # thing groups, jobs
    assert call("manage/create_thing_group")[0] == 201
    assert call("manage/create_thing_group")[0] == 409
    assert call("manage/list_thing_groups")[0] == 200
    assert call("manage/get_thing_group")[0] == 200
    assert call("manage/add_thing_to_group")[0] == 200
    assert call("manage/list_thing_group_members")[0] == 200
    assert call("manage/create_job")[0] == 201
    assert call("manage/create_job")[0] == 409
    assert call("manage/list_jobs")[0] == 200
    assert call("manage/get_job")[0] == 200
    assert call("manage/list_job_executions")[0] == 200
    assert call("manage/cancel_job")[0] == 200
    assert call("manage/remove_thing_from_group")[0] == 204
    assert call("manage/delete_thing_group")[0] == 204

    # shadows, events, commands
    assert call("manage/update_shadow_desired")[0] == 200
    assert call("manage/get_shadow")[0] == 200
    assert call("manage/get_shadow", query={"name": "nope"})[0] == 404
    assert call("manage/list_named_shadows")[0] == 200
    assert call("manage/get_shadow_history")[0] == 200
    assert call("manage/delete_shadow")[0] == 200
    assert call("manage/list_device_events")[0] == 200
    assert call("manage/list_device_events", query={"order": "sideways"})[0] == 400
    status, command = call("manage/send_command")
    assert status == 201, command
    walk.replacements[EXECUTION] = command["data"]["executionId"]
    assert call("manage/list_commands")[0] == 200
    assert call("manage/get_command")[0] == 200
    assert call("manage/cancel_command")[0] == 200
    assert call("manage/cancel_command")[0] == 409
    assert call("manage/delete_device")[0] == 204
    assert call("manage/delete_device")[0] == 404

    # Xyte files and dumps
    walk_xyte_files(stack, call)

    # ThingsPro gateways (offline: a request waits for the gateway)
    status, gateway = call("manage/register_thingspro_gateway")
    assert status == 201, gateway
    walk.replacements[GATEWAY] = gateway["data"]["id"]
    assert call("manage/register_thingspro_gateway", {"name": "two words"})[0] == 400
    assert call("manage/get_thingspro_gateway")[0] == 200
    assert call("manage/get_thingspro_gateway", **{GATEWAY: UNKNOWN_ID})[0] == 404
    status, sent = call("manage/send_thingspro_request")
    assert (status, sent["data"]["state"]) == (202, "queued"), sent
    assert call("manage/send_thingspro_request", {"method": "PUT", "path": "system"})[0] == 400
    assert call("manage/list_thingspro_requests")[0] == 200
    assert call("manage/get_thingspro_request")[0] == 200
    assert call("manage/cancel_thingspro_request")[0] == 200
    assert call("manage/cancel_thingspro_request")[0] == 409

    # Then every answer conformed, and every operator route succeeded once
    # the Xyte operator routes are walked with the Xyte device routes (test_xyte_registry_conformance.py)
    operator_routes = {r for r in walk.routes_of("Operator") if " /manage/v1/xyte/" not in r}
    walk.assert_covered("Operator", {400, 401, 403, 404, 409}, routes=operator_routes)


# --------------------------------------------------------------------------- the checker itself
@pytest.mark.parametrize(
    ("route_key", "response", "problem"),
    [
        ("GET /manage/v1/devices/{id}", {"statusCode": 418, "body": ""}, "status 418 is not documented"),
        (
            "GET /manage/v1/devices/{id}",
            {
                "statusCode": 200,
                "headers": {"content-type": "application/json"},
                "body": '{"data": {"id": 1}}',
            },
            "data",
        ),
        (
            "GET /manage/v1/devices/{id}",
            {"statusCode": 404, "headers": {"content-type": "text/html"}, "body": "<p>"},
            "content type 'text/html'",
        ),
        ("POST /api/v1/{token}/telemetry", {"statusCode": 200, "body": "{}"}, "an empty body is documented"),
        (
            "GET /api/v1/thing-datas/{thingName}/shadow",
            {
                "statusCode": 401,
                "headers": {"content-type": "application/json"},
                "body": '{"code":"U","message":"m"}',
            },
            "header WWW-Authenticate is required",
        ),
    ],
)
def test_the_checker_refuses_what_the_document_does_not_allow(
    route_key: str, response: dict[str, Any], problem: str
) -> None:
    assert any(problem in p for p in conformance_problems(route_key, response))
