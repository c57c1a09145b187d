"""Xyte's sync topic ``v1/device/{id}/get``: what waits for a device (space info, an unacknowledged
config, the oldest command it has not reported on, unanswered license changes, a firmware notice) is
published again, each item with the id it had; what the device acknowledged, started or answered is
not; a message whose sender is not the topic's device publishes nothing."""

from __future__ import annotations

import json

from fleetgate.services import xyte
from tests.integration.conftest import Stack
from tests.integration.xyte_sync_steps import (  # noqa: F401 - fixtures
    XyteDevice,
    _core_settings,
    deliver,
    items,
    ok,
    register,
    rule_event,
    template,
)

GET = "XyteOnGetFunction"


def _topics(published: list[dict]) -> dict[str, dict]:
    return {p["topic"].split("/", 3)[3]: p for p in published}


def _everything_waiting(stack: Stack, device: XyteDevice) -> tuple[str, str]:
    ok(stack, "manage/xyte_set_config", device.id, {"config": {"input": "hdmi"}})
    command = ok(stack, "manage/xyte_send_command", device.id, {"name": "reboot"}, status=201)["data"]["id"]
    license_id = ok(
        stack,
        "manage/xyte_add_license",
        device.id,
        {"data": "seats=5", "signature": "RSA signature..."},
        status=201,
    )["data"]["id"]
    ok(stack, "manage/put_xyte_space", device.id)  # the event: Interactive Class, Germany
    record = xyte.record(device.id)
    repo = xyte.repository()
    model = repo.get_model(record.model_id)
    repo.save_model(model, model.with_changes(latest_fw_version="2.0.0", latest_fw_file_id="fw-2"))
    return command, license_id


def test_get_publishes_everything_that_waits_with_the_ids_it_had(stack: Stack) -> None:
    device = register("1.0.7")
    command, license_id = _everything_waiting(stack, device)

    published = deliver(stack, GET, rule_event("on_get", device))

    topics = _topics(published)
    assert set(topics) == {"space_info", "config", "commands", "license", "firmware", "get/accepted"}
    assert topics["space_info"]["json"]["name"] == "Interactive Class"
    assert topics["config"]["json"]["config"] == {"input": "hdmi"}
    assert (topics["commands"]["json"]["id"], topics["commands"]["correlation"]) == (command, command)
    assert topics["commands"]["responseTopic"] == f"v1/device/{device.id}/commands/update"
    assert topics["license"]["correlation"] == license_id
    assert topics["firmware"]["json"] == {
        "latest_fw_version": "2.0.0",
        "latest_fw_file_id": "fw-2",
        "device_id": device.id,
    }
    assert all(p["qos"] == 1 for p in published)
    assert json.loads(topics["get/accepted"]["payload"]) == {
        "space_info": True,
        "config": True,
        "command": True,
        "licenses": 1,
        "firmware": True,
    }


def test_what_the_device_acknowledged_started_or_answered_is_not_sent_again(stack: Stack) -> None:
    device = register("1.0.7")
    command, license_id = _everything_waiting(stack, device)
    deliver(
        stack,
        "XyteOnConfigUpdateFunction",
        rule_event("on_config_update", device, body={"config": {"input": "hdmi"}}),
    )
    deliver(
        stack,
        "XyteOnCommandsUpdateFunction",
        rule_event(
            "on_commands_update", device, body={"id": command, "status": "in_progress"}, correlation=command
        ),
    )
    deliver(
        stack,
        "XyteOnLicenseUpdateFunction",
        rule_event(
            "on_license_update", device, body={"id": license_id, "state": "inuse"}, correlation=license_id
        ),
    )
    ok(stack, "xyte/device_put", device, {"firmware_version": "2.0.0"})

    published = deliver(stack, GET, rule_event("on_get", device))

    assert set(_topics(published)) == {"space_info", "get/accepted"}


def test_get_from_another_client_publishes_nothing_and_writes_nothing(stack: Stack) -> None:
    device = register("1.0.7")
    other = register("1.0.7")
    _everything_waiting(stack, device)
    before = items(stack)

    published = deliver(stack, GET, rule_event("on_get", device, clientId=other.id))
    forged = deliver(
        stack, GET, rule_event("on_get", device, userProperties=[{"key": "access_key", "value": other.key}])
    )

    assert published == [] and forged == []
    assert items(stack) == before
