"""The operator API's request models state the domain's rules, so the OpenAPI document (made from the
same models) calls invalid exactly what the routes refuse."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from fleetgate.contracts.manage_requests import (
    AssignRequest,
    CreateApiKeyRequest,
    CreateGroupRequest,
    CreateJobRequest,
    CreatePackageRequest,
    SendCommandRequest,
)
from fleetgate.dialects.thingdatas.commands import checked_execution_id
from fleetgate.domain import jobs, ota
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


def _domain_accepts_package(body: dict[str, Any]) -> bool:
    try:
        ota.new_package(
            body["type"],
            body["title"],
            body["version"],
            content_type=body.get("contentType"),
            file_name=body.get("fileName"),
            checksum_algorithm=body.get("checksumAlgorithm"),
            checksum=body.get("checksum"),
            size=body.get("size"),
            now_ms=0,
        )
    except InvalidRequest:
        return False
    return True


PACKAGE = {"type": "FIRMWARE", "title": "thermostat", "version": "1.0"}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"type": "SOFTWARE", "contentType": "application/zip", "fileName": "fw-1.0.bin", "size": 1},
        {"title": "a.b c", "version": " 2 "},
        {"type": ""},
        {"type": "firmware"},
        {"title": ""},
        {"title": "   "},
        {"title": "."},
        {"title": ".."},
        {"title": "a/b"},
        {"title": "a\\b"},
        {"title": "a\tb"},
        {"title": "t" * 256},
        {"version": ""},
        {"version": "1\n"},
        {"contentType": ""},
        {"contentType": "binary"},
        {"contentType": "application/zip\n"},
        {"fileName": "a.bin\n"},
        {"fileName": ""},
        {"fileName": "..."},
        {"fileName": "a b"},
        {"checksumAlgorithm": ""},
        {"checksumAlgorithm": "SHA1"},
        {"size": 0},
    ],
)
def test_a_package_body_is_valid_for_the_model_exactly_when_the_domain_takes_it(
    changes: dict[str, Any],
) -> None:
    body = PACKAGE | changes
    assert _model_accepts(CreatePackageRequest, body) == _domain_accepts_package(body)


def test_an_assignment_names_at_least_one_package() -> None:
    assert not _model_accepts(AssignRequest, {})
    assert _model_accepts(AssignRequest, {"firmwareId": None})
    assert AssignRequest.model_json_schema()["minProperties"] == 1


@pytest.mark.parametrize(
    ("execution_id", "valid"),
    [
        ("6f1f8e1c-8a8b-4b8e-9a53-3d5f0e0c1a2b", True),
        ("6F1F8E1C8A8B4B8E9A533D5F0E0C1A2B", True),
        ("", False),
        ("{6f1f8e1c-8a8b-4b8e-9a53-3d5f0e0c1a2b}", False),
        ("urn:uuid:6f1f8e1c-8a8b-4b8e-9a53-3d5f0e0c1a2b", False),
    ],
)
def test_a_command_execution_id_is_a_uuid_for_the_model_and_the_dialect(
    execution_id: str, valid: bool
) -> None:
    assert _model_accepts(SendCommandRequest, {"action": "reboot", "executionId": execution_id}) == valid
    try:
        checked_execution_id(execution_id)
        taken = True
    except InvalidRequest:
        taken = False
    assert taken == valid


@pytest.mark.parametrize(("name", "valid"), [("floor-1", True), ("a:b_c", True), ("", False), ("a b", False)])
def test_a_group_name_follows_the_thing_name_rule(name: str, valid: bool) -> None:
    assert _model_accepts(CreateGroupRequest, {"name": name}) == valid


@pytest.mark.parametrize(
    "changes",
    [
        {"checksum": "a" * 64},
        {"checksum": "a" * 64, "checksumAlgorithm": "SHA256"},
        {"checksum": "a" * 32, "checksumAlgorithm": "MD5"},
        {"checksum": "a" * 128, "checksumAlgorithm": "sha512"},
        {"checksum": "0"},
        {"checksum": "a" * 32},
        {"checksum": "a" * 64, "checksumAlgorithm": "CRC32"},
    ],
)
def test_a_checksum_has_its_algorithms_length_for_the_model_and_the_domain(changes: dict[str, Any]) -> None:
    body = PACKAGE | changes
    documented = jsonschema.Draft202012Validator(CreatePackageRequest.model_json_schema()).is_valid(body)
    assert _model_accepts(CreatePackageRequest, body) == _domain_accepts_package(body) == documented
