"""The operator's Xyte routes: models (the hardware key shown once, a new API version copied to the
model's devices, deletion refused while devices use it) and devices' space info (published to the
device at once), cloud settings and info."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleetgate.errors import CallFailed
from fleetgate_local.template import Template
from tests.integration.conftest import DEVICE_PLACEHOLDER, ROOT, Stack, create_device
from tests.integration.xyte_steps import (
    IOT_DATA_ENDPOINT,
    MODEL_PLACEHOLDER,
    XDevice,
    create_model,
    hub,
    operator,
    published,
    register,
    registered,
    registry_items,
    snapshot,
)

MODELS, DEVICES = "ManageXyteModelsFunction", "ManageXyteDevicesFunction"


@pytest.fixture
def template() -> Template:
    return Template.load(ROOT / "template.yaml", {"IotDataEndpoint": IOT_DATA_ENDPOINT})


# --------------------------------------------------------------------------- models
def test_a_model_shows_its_hardware_key_once(stack: Stack) -> None:
    status, created = operator(stack, MODELS, "create_xyte_model")

    assert status == 201 and len(created["data"]["hardware_key"]) == 32
    model_id = created["data"]["id"]
    code, read = operator(stack, MODELS, "get_xyte_model", **{MODEL_PLACEHOLDER: model_id})
    assert code == 200 and "hardware_key" not in read["data"]
    assert read["data"] | {"created_at": None} == {
        "id": model_id,
        "name": "Projector X1",
        "api_version": "1.0.7",
        "vendor": "Acme",
        "latest_fw_version": None,
        "latest_fw_file_id": None,
        "created_at": None,
    }
    assert created["data"]["hardware_key"] not in json.dumps(registry_items(stack))
    listed = operator(stack, MODELS, "list_xyte_models")[1]
    assert [m["id"] for m in listed["data"]] == [model_id] and listed["count"] == 1


@pytest.mark.parametrize(
    ("case", "body", "status"),
    [
        ("an unknown API version", {"name": "m", "api_version": "2.0.0"}, 400),
        ("an unknown field", {"name": "m", "colour": "red"}, 400),
        ("a short chosen key", {"name": "m", "hardware_key": "short"}, 400),
        ("no name", {"api_version": "1.0.7"}, 400),
        ("a name in use", {"name": "Projector X1"}, 409),
    ],
)
def test_bad_models_are_refused_and_write_nothing(stack: Stack, case: str, body: Any, status: int) -> None:
    create_model(stack)
    before = registry_items(stack)
    code, answer = operator(stack, MODELS, "create_xyte_model", body)
    assert code == status and answer["error"]["code"] == status
    assert registry_items(stack) == before


def test_a_new_api_version_reaches_the_models_devices(stack: Stack) -> None:
    # Given two devices of a 1.0.6 model (no device_id in their answers)
    model_id, key = create_model(stack, "1.0.6")
    first = registered(stack, key)
    registered(stack, key, cloud_id="two", mac=None)
    assert "device_id" not in hub(stack, "telemetry", "telemetry_post", first)[1]

    # When the operator moves the model to 1.0.7
    status, answer = operator(
        stack, MODELS, "update_xyte_model", {"api_version": "1.0.7"}, **{MODEL_PLACEHOLDER: model_id}
    )

    # Then both records are written, and the devices' answers carry device_id
    assert (
        status == 200 and answer["data"]["devicesUpdated"] == 2 and answer["data"]["api_version"] == "1.0.7"
    )
    assert hub(stack, "telemetry", "telemetry_post", first)[1]["device_id"] == first.id


def test_a_models_latest_firmware_follows_its_api_versions_rules(stack: Stack) -> None:
    model_id, _ = create_model(stack, "1.0.4")
    ids = {MODEL_PLACEHOLDER: model_id}
    refused = operator(stack, MODELS, "update_xyte_model", {"latest_fw_version": "build 7"}, **ids)
    assert refused[0] == 400 and "SemVer" in refused[1]["error"]["message"]
    assert operator(stack, MODELS, "update_xyte_model", **ids)[1]["data"]["latest_fw_version"] == "1.0.5"
    cleared = operator(stack, MODELS, "update_xyte_model", {"latest_fw_version": None}, **ids)[1]["data"]
    assert (
        cleared["latest_fw_version"] is None and cleared["latest_fw_file_id"] is not None
    )  # not named: kept


def test_a_model_in_use_cannot_be_deleted(stack: Stack) -> None:
    model_id, key = create_model(stack)
    device = registered(stack, key)
    ids = {MODEL_PLACEHOLDER: model_id}

    assert operator(stack, MODELS, "delete_xyte_model", **ids)[0] == 409
    hub(stack, "delete", "delete_device", device)
    assert operator(stack, MODELS, "delete_xyte_model", **ids)[0] == 204
    assert operator(stack, MODELS, "get_xyte_model", **ids)[0] == 404
    assert register(stack, key)[0] == 404  # its hardware key names no model any more
    assert not [i for i in registry_items(stack) if i["pk"]["S"].startswith(("XYTEMODEL", "HWKEY"))]


# --------------------------------------------------------------------------- space
@pytest.fixture
def device(stack: Stack) -> XDevice:
    return registered(stack, create_model(stack, "1.0.7")[1])


def test_space_info_is_stored_versioned_and_published_at_once(stack: Stack, device: XDevice) -> None:
    ids = {DEVICE_PLACEHOLDER: device.id}

    status, answer = operator(stack, DEVICES, "put_xyte_space", **ids)  # the seed: Germany, +60 min

    assert status == 200 and answer["data"]["space_version"] == 1 and answer["data"]["published"] is True
    [(topic, payload)] = [(t, json.loads(p)) for t, p in published() if t.endswith("/space_info")]
    assert topic == f"v1/device/{device.id}/space_info"
    assert payload["location"] == {
        "coordinates": {"lat": 52.52, "lng": 13.405},
        "utc_offset": 60,
        "name": "Germany",
    }
    assert payload["name"] == "Interactive Class" and payload["local_time"].endswith("+01:00")
    assert hub(stack, "device", "device_get_space", device)[1]["location"]["name"] == "Germany"
    assert hub(stack, "telemetry", "telemetry_post", device)[1]["space_data_version"] == 1
    assert operator(stack, DEVICES, "get_xyte_space", **ids)[1]["data"]["space_version"] == 1


def test_a_failed_publish_still_stores_the_space(
    stack: Stack, device: XDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleetgate.data import iot  # noqa: PLC0415

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise CallFailed("iot-data Publish failed: Throttling")

    monkeypatch.setattr(iot, "publish", refuse)
    status, answer = operator(stack, DEVICES, "put_xyte_space", **{DEVICE_PLACEHOLDER: device.id})
    assert status == 200 and answer["data"]["published"] is False and answer["data"]["space_version"] == 1


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("a latitude of 91", {"location": {"coordinates": {"lat": 91}}}),
        ("an offset of 15 hours", {"location": {"utc_offset": 900}}),
        ("kelvin", {"temperature_units": "kelvin"}),
        ("an unknown field", {"colour": "red"}),
        ("maintenance as a string", {"maintenance": "yes"}),
        ("a latitude of true", {"location": {"coordinates": {"lat": True}}}),
        ("a longitude of false", {"location": {"coordinates": {"lng": False}}}),
        ("a latitude as a string", {"location": {"coordinates": {"lat": "47.5"}}}),
    ],
)
def test_bad_space_info_is_400_and_writes_nothing(
    stack: Stack, device: XDevice, case: str, body: Any
) -> None:
    before = snapshot(stack)
    status, _ = operator(stack, DEVICES, "put_xyte_space", body, **{DEVICE_PLACEHOLDER: device.id})
    assert status == 400
    assert snapshot(stack) == before and published() == []


def test_the_xyte_routes_are_404_for_a_device_that_is_not_a_xyte_device(stack: Stack) -> None:
    plain = create_device(stack, "thermostat-1")
    ids = {DEVICE_PLACEHOLDER: plain.id}
    for name in (
        "get_xyte_device",
        "get_xyte_space",
        "put_xyte_space",
        "list_xyte_incidents",
        "get_xyte_cloud_settings",
    ):
        assert operator(stack, DEVICES, name, **ids)[0] == 404, name
    assert published() == []


def test_the_operator_reads_a_devices_info_and_cloud_settings(stack: Stack, device: XDevice) -> None:
    ids = {DEVICE_PLACEHOLDER: device.id}
    assert operator(stack, DEVICES, "get_xyte_cloud_settings", **ids)[1]["data"] == {
        "incidents.suspend_creation": False
    }
    hub(stack, "device", "device_put_cloud_settings", device)
    assert operator(stack, DEVICES, "get_xyte_cloud_settings", **ids)[1]["data"] == {
        "incidents.suspend_creation": True
    }
    info = operator(stack, DEVICES, "get_xyte_device", **ids)[1]["data"]
    assert info["id"] == device.id and info["partner"]["model"] == "Projector X1"
