"""Xyte telemetry, Update Device and cloud settings over MQTT (``XyteOnTelemetryFunction``,
``XyteOnUpdateFunction``, ``XyteOnCloudSettingsUpdateFunction``, invoked by their topic rules), in
process against moto: events are the rules' SELECT result (``events/xyte/on_*.json``), replies are read
from the ``Publish`` calls. Refused messages are dropped or answered with the error body, never raised,
and write nothing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from fleetgate_local.template import Template
from tests.integration.conftest import ROOT, Stack
from tests.integration.xyte_steps import (
    IOT_DATA_ENDPOINT,
    XDevice,
    create_model,
    deliver,
    hub,
    registered,
    rule_event,
    snapshot,
    table_items,
)

TELEMETRY, UPDATE, SETTINGS = (
    "XyteOnTelemetryFunction",
    "XyteOnUpdateFunction",
    "XyteOnCloudSettingsUpdateFunction",
)


@pytest.fixture
def template() -> Template:
    return Template.load(ROOT / "template.yaml", {"IotDataEndpoint": IOT_DATA_ENDPOINT})


@pytest.fixture
def device(stack: Stack) -> XDevice:
    return registered(stack, create_model(stack, "1.0.7")[1])


def history(stack: Stack, device: XDevice) -> list[dict[str, Any]]:
    return [
        i
        for i in table_items(stack, "TelemetryTable")
        if i["deviceId"]["S"] == device.id and i["sk"]["S"] != "LATEST"
    ]


# --------------------------------------------------------------------------- telemetry
def test_a_telemetry_message_is_stored_and_answered_on_its_response_topic(
    stack: Stack, device: XDevice
) -> None:
    [(topic, payload, params)] = deliver(stack, TELEMETRY, rule_event("on_telemetry", device))

    assert topic == f"v1/device/{device.id}/telemetry/response"
    assert payload["success"] is True and payload["device_id"] == device.id and payload["config_version"] == 0
    assert base64.b64decode(params["correlationData"]) == b"telemetry-1"
    assert len(history(stack, device)) == 1
    assert hub(stack, "device", "device_get", device)[1]["state"]["status"] == "online"


def test_a_redelivered_telemetry_message_is_stored_once(stack: Stack, device: XDevice) -> None:
    message = rule_event("on_telemetry", device)
    deliver(stack, TELEMETRY, message)
    deliver(stack, TELEMETRY, message)  # AWS retried the invocation
    assert len(history(stack, device)) == 1


def test_without_a_response_topic_nothing_is_published(stack: Stack, device: XDevice) -> None:
    assert deliver(stack, TELEMETRY, rule_event("on_telemetry", device, responseTopic=None)) == []
    assert len(history(stack, device)) == 1


@pytest.mark.parametrize(
    ("case", "fields"),
    [
        ("another client", {"clientId": "8f14e45f-ceea-467f-a0e6-000000000000"}),
        ("another device's key", "other-key"),
        ("a topic of another device", "other-topic"),
    ],
)
def test_a_message_not_from_the_device_is_dropped_unanswered(
    stack: Stack, device: XDevice, case: str, fields: Any
) -> None:
    other = registered(stack, create_model(stack, name="Other")[1], cloud_id="other", mac=None)
    if fields == "other-key":
        fields = {"userProperties": [{"key": "access_key", "value": other.key}]}
    elif fields == "other-topic":
        fields = {"topic": f"v1/device/{other.id}/telemetry"}  # from the device's own client
    before = snapshot(stack)

    assert deliver(stack, TELEMETRY, rule_event("on_telemetry", device, **fields)) == []
    assert snapshot(stack) == before


@pytest.mark.parametrize(
    ("case", "payload", "code"),
    [
        ("not JSON", b"{status", "InvalidRequest"),
        ("an unknown status", {"status": "busy"}, "InvalidRequest"),
        ("an array", [1], "InvalidRequest"),
        ("telemetries of 128 KB", {"telemetries": {"blob": "x" * 131_072}}, "PayloadTooLarge"),
    ],
)
def test_a_bad_telemetry_message_gets_the_error_body_and_writes_nothing(
    stack: Stack, device: XDevice, case: str, payload: Any, code: str
) -> None:
    before = snapshot(stack)
    [(topic, answer, _)] = deliver(stack, TELEMETRY, rule_event("on_telemetry", device, payload))
    assert (
        topic.endswith("/telemetry/response") and answer["code"] == code and set(answer) == {"error", "code"}
    )
    assert snapshot(stack) == before


def test_a_reply_topic_a_rule_listens_on_is_never_used(stack: Stack, device: XDevice) -> None:
    message = rule_event("on_telemetry", device, responseTopic=f"v1/device/{device.id}/telemetry")
    assert deliver(stack, TELEMETRY, message) == []


# --------------------------------------------------------------------------- Update Device
def test_an_update_message_is_applied_once_and_answered(stack: Stack, device: XDevice) -> None:
    message = rule_event("on_update", device)

    [(topic, payload, _)] = deliver(stack, UPDATE, message)
    deliver(stack, UPDATE, message)  # redelivered: same rule timestamp

    assert topic == f"v1/device/{device.id}/update/response"
    assert payload == {"success": True, "info_version": 1, "device_id": device.id}
    info = hub(stack, "device", "device_get", device)[1]
    assert (info["name"], info["state"]["firmware_version"], info["info_version"]) == (
        "lobby display",
        "1.0.2",
        1,
    )


def test_the_2022_agents_firmware_version_spelling_is_read(stack: Stack, device: XDevice) -> None:
    deliver(stack, UPDATE, rule_event("on_update", device, {"firmwareVersion": "2.0.0"}))
    assert hub(stack, "device", "device_get", device)[1]["state"]["firmware_version"] == "2.0.0"


def test_an_update_over_the_limit_is_refused_with_the_429_body(stack: Stack, device: XDevice) -> None:
    start = 1_795_341_600_000
    for i in range(10):
        deliver(stack, UPDATE, rule_event("on_update", device, {"name": f"n{i}"}, timestamp=start + i))
    before = snapshot(stack)

    [(_, answer, _)] = deliver(
        stack, UPDATE, rule_event("on_update", device, {"name": "late"}, timestamp=start + 60_000)
    )

    assert answer["code"] == "TooManyRequests"
    assert snapshot(stack) == before


# --------------------------------------------------------------------------- cloud settings
def test_a_cloud_settings_message_sets_the_property(stack: Stack, device: XDevice) -> None:
    [(_, answer, _)] = deliver(stack, SETTINGS, rule_event("on_cloud_settings_update", device))

    assert answer["settings"] == {"incidents.suspend_creation": True}
    assert hub(stack, "incidents", "incidents_post", device)[1]["code"] == "IncidentsSuspended"


def test_an_unknown_cloud_setting_is_answered_with_the_error_body(stack: Stack, device: XDevice) -> None:
    before = snapshot(stack)
    [(_, answer, _)] = deliver(
        stack, SETTINGS, rule_event("on_cloud_settings_update", device, {"property": "x", "value": 1})
    )
    assert answer["code"] == "InvalidRequest"
    assert snapshot(stack) == before
