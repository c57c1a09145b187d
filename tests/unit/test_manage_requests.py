"""The operator API's request models state the domain's rules, so the OpenAPI document (made from the
same models) calls invalid exactly what the routes refuse."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fleetgate.contracts.manage_requests import CreateApiKeyRequest, CreateJobRequest, SendCommandRequest
from fleetgate.domain import jobs
from fleetgate.domain.apikeys import new_api_key
from fleetgate.errors import InvalidRequest

PERMISSION = {"method": "POST", "path": "/api/v1/thing-datas"}


def _domain_accepts_key(body: dict[str, Any]) -> bool:
    try:
        new_api_key(
            body["name"], [(p["method"], p["path"]) for p in body["permissions"]], body.get("thingNames"), 0
        )
    except InvalidRequest:
        return False
    return True


def _model_accepts(model: type, body: dict[str, Any]) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "body",
    [
        {"name": "k", "permissions": [PERMISSION]},
        {"name": "k", "permissions": [{"method": "get", "path": "/"}, {"method": "*", "path": "/a/{b}"}]},
        {"name": "k", "permissions": [PERMISSION], "thingNames": ["thermostat-001"]},
        {"name": "k" * 128, "permissions": [PERMISSION] * 32},
        {"name": "k", "permissions": []},
        {"name": "k", "permissions": [PERMISSION] * 33},
        {"name": "k" * 129, "permissions": [PERMISSION]},
        {"name": "k", "permissions": [{"method": "0", "path": "/"}]},
        {"name": "k", "permissions": [{"method": "HEAD", "path": "/"}]},
        {"name": "k", "permissions": [{"method": "GET", "path": "relative"}]},
        {"name": "k", "permissions": [{"method": "GET", "path": "/a b"}]},
        {"name": "k", "permissions": [{"method": "GET", "path": "/" + "a" * 256}]},
        {"name": "k", "permissions": [PERMISSION], "thingNames": []},
        {"name": "k", "permissions": [PERMISSION], "thingNames": [""]},
        {"name": "k", "permissions": [PERMISSION], "thingNames": ["a/b"]},
    ],
)
def test_an_api_key_body_is_valid_for_the_model_exactly_when_the_domain_takes_it(
    body: dict[str, Any],
) -> None:
    assert _model_accepts(CreateApiKeyRequest, body) == _domain_accepts_key(body)


def _domain_accepts_job(body: dict[str, Any]) -> bool:
    targets = body.get("targets", {})
    try:
        jobs.job_spec(
            job_id=body.get("jobId"),
            document=body.get("document"),
            thing_names=targets.get("thingNames"),
            group_names=targets.get("thingGroupNames"),
            target_selection=body.get("targetSelection"),
            description=body.get("description"),
            maximum_per_minute=(body.get("jobExecutionsRolloutConfig") or {}).get("maximumPerMinute"),
            in_progress_timeout_minutes=(body.get("timeoutConfig") or {}).get("inProgressTimeoutInMinutes"),
        )
    except InvalidRequest:
        return False
    return True


TARGETS = {"thingNames": ["thermostat-001"]}


@pytest.mark.parametrize(
    "body",
    [
        {"document": {}, "targets": TARGETS},
        {"document": {}, "targets": {"thingGroupNames": ["floor-1"]}, "targetSelection": "CONTINUOUS"},
        {"document": {}, "targets": TARGETS, "jobExecutionsRolloutConfig": {"maximumPerMinute": 1000}},
        {"document": {}, "targets": TARGETS, "timeoutConfig": {"inProgressTimeoutInMinutes": 10_080}},
        {"document": {}, "targets": {}},
        {"document": {}, "targets": {"thingNames": [], "thingGroupNames": []}},
        {"document": {}, "targets": {"thingNames": ["a b"]}},
        {"document": {}, "targets": {"thingNames": [f"t{i}" for i in range(101)]}},
        {"document": {}, "targets": {"thingGroupNames": [f"g{i}" for i in range(26)]}},
        {"document": [], "targets": TARGETS},
        {"document": {}, "targets": TARGETS, "jobId": "a/b"},
        {"document": {}, "targets": TARGETS, "description": "d" * 2029},
        {"document": {}, "targets": TARGETS, "targetSelection": "SOMETIMES"},
        {"document": {}, "targets": TARGETS, "jobExecutionsRolloutConfig": {"maximumPerMinute": 0}},
        {"document": {}, "targets": TARGETS, "jobExecutionsRolloutConfig": {"maximumPerMinute": 1001}},
        {"document": {}, "targets": TARGETS, "timeoutConfig": {"inProgressTimeoutInMinutes": 0}},
    ],
)
def test_a_job_body_is_valid_for_the_model_exactly_when_the_domain_takes_it(body: dict[str, Any]) -> None:
    assert _model_accepts(CreateJobRequest, body) == _domain_accepts_job(body)


@pytest.mark.parametrize(
    ("ttl", "valid"), [(30, True), (30.0, True), (30.5, False), ("30", False), (True, False)]
)
def test_an_integer_field_takes_what_json_schema_calls_an_integer(ttl: Any, valid: bool) -> None:
    assert _model_accepts(SendCommandRequest, {"action": "reboot", "ttl": ttl}) == valid
