"""The Xyte registration, hub and operator routes of ``fleetgate.contracts.xyte_registry`` answer what
``docs/openapi.json`` says (the walk of ``test_openapi_conformance``): each route succeeds at least once
and its errors are checked against the document too."""

from __future__ import annotations

import json

import pytest

from fleetgate.contracts.xyte_registry import OPERATIONS
from tests.integration.conftest import DEVICE_PLACEHOLDER, TOKEN_PLACEHOLDER, Stack, create_device
from tests.integration.test_openapi_conformance import Walk
from tests.integration.test_openapi_conformance import template as template  # noqa: PLC0414 - the fixture
from tests.integration.xyte_steps import HARDWARE_KEY_PLACEHOLDER, MODEL_PLACEHOLDER

INCIDENT = "0193a5b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def walk(stack: Stack) -> Walk:
    return Walk(stack)


def test_xyte_registry_answers_conform_to_the_document(stack: Stack, walk: Walk) -> None:
    # Given a model, a device of it and a child model
    status, created = walk.call("manage/create_xyte_model")
    assert status == 201
    model_id, key = created["data"]["id"], created["data"]["hardware_key"]
    walk.replacements = {HARDWARE_KEY_PLACEHOLDER: key, MODEL_PLACEHOLDER: model_id}
    assert walk.call("manage/create_xyte_model")[0] == 409
    assert walk.call("manage/create_xyte_model", {"name": "x", "api_version": "9"})[0] == 400
    status, device = walk.call("xyte/register_post_device")
    assert status == 201
    assert walk.call("xyte/register_post_device")[0] == 422
    assert (
        walk.call(
            "xyte/register_post_device",
            {"hardware_key": "0" * 32, "cloud_id": "c", "sn": "1", "firmware_version": "1.0.0"},
        )[0]
        == 404
    )
    assert walk.call("xyte/register_post_device", "{")[0] == 400
    assert walk.call("xyte/register_bulk_create")[0] == 201
    walk.replacements |= {TOKEN_PLACEHOLDER: device["access_key"], DEVICE_PLACEHOLDER: device["id"]}

    # When every hub route is called with the device's key (and refused input, foreign and unknown keys)
    status, child = walk.call("xyte/register_post_child")
    assert status == 201
    assert walk.call("xyte/register_post_child")[0] == 422
    for name in (
        "device_get",
        "device_put",
        "device_get_children",
        "device_get_space",
        "device_put_cloud_settings",
    ):
        assert walk.call(f"xyte/{name}")[0] == 200, name
    assert walk.call("xyte/device_put", {"colour": 1})[0] == 400
    for _ in range(10):
        walk.call("xyte/device_put")
    assert walk.call("xyte/device_put")[0] == 429
    assert walk.call("xyte/telemetry_post")[0] == 200
    assert walk.call("xyte/telemetry_post", {"telemetries": {"x": "y" * 131_072}})[0] == 413
    body = {
        child["id"]: {"access_token": child["access_key"], "status": "online"},
        "nobody": {"access_token": "x"},
    }
    assert walk.call("xyte/telemetry_post_children", body)[0] == 200
    assert walk.call("xyte/events_post")[0] == 201
    assert walk.call("xyte/incidents_post")[0] == 422  # suspended by the cloud setting above
    walk.call("xyte/device_put_cloud_settings", {"property": "incidents.suspend_creation", "value": False})
    status, incident = walk.call("xyte/incidents_post")
    assert status == 201
    assert walk.call("xyte/incidents_get")[0] == 200
    assert walk.call("xyte/incidents_delete_one", **{INCIDENT: incident["id"]})[0] == 200
    assert walk.call("xyte/incidents_delete_one")[0] == 404
    assert walk.call("xyte/incidents_delete_all")[0] == 200
    other = create_device(stack, "thermostat-1")
    assert walk.call("xyte/device_get", **{TOKEN_PLACEHOLDER: other.token})[0] == 403
    assert walk.call("xyte/device_get", **{TOKEN_PLACEHOLDER: "unknown"})[0] == 401

    # and the operator's routes
    ids = {DEVICE_PLACEHOLDER: device["id"]}
    for name in ("list_xyte_models", "get_xyte_model", "update_xyte_model"):
        assert walk.call(f"manage/{name}")[0] == 200, name
    for name in (
        "get_xyte_device",
        "put_xyte_space",
        "get_xyte_space",
        "list_xyte_incidents",
        "get_xyte_cloud_settings",
    ):
        assert walk.call(f"manage/{name}", **ids)[0] == 200, name
    walk.call("xyte/incidents_post")
    opened = walk.call("xyte/incidents_get")[1][0]["id"]
    assert walk.call("manage/close_xyte_incident", **ids, **{INCIDENT: opened})[0] == 200
    assert walk.call("manage/put_xyte_space", json.dumps({"temperature_units": "kelvin"}), **ids)[0] == 400
    assert walk.call("manage/get_xyte_device", **{DEVICE_PLACEHOLDER: other.id})[0] == 404
    assert walk.call("manage/delete_xyte_model")[0] == 409
    assert (
        walk.call(
            "xyte/delete_device", **{TOKEN_PLACEHOLDER: child["access_key"], DEVICE_PLACEHOLDER: child["id"]}
        )[0]
        == 200
    )
    assert walk.call("xyte/delete_device")[0] == 200
    walk.call("manage/list_xyte_models")
    # the bulk's two devices still use the model; an unused one goes
    assert walk.call("manage/delete_xyte_model")[0] == 409
    unused = walk.call("manage/create_xyte_model", {"name": "unused"})[1]["data"]["id"]
    assert walk.call("manage/delete_xyte_model", **{MODEL_PLACEHOLDER: unused})[0] == 204

    # Then every route of this area succeeded, and its errors conformed too
    walk.assert_covered(
        "Xyte", {400, 401, 403, 404, 413, 422, 429}, routes={op.route_key for op in OPERATIONS}
    )
