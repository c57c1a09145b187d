"""Every route of ``fleetgate.contracts.xyte_sync`` answers as ``docs/openapi.json`` says: one walk that
succeeds on each of them (each answer checked against the document by ``xyte_sync_steps.call``), with the
errors each documents."""

from __future__ import annotations

from fleetgate.contracts.xyte_sync import OPERATIONS
from tests.integration.conftest import Stack
from tests.integration.xyte_sync_steps import (  # noqa: F401 - fixtures
    ANSWERS,
    UNKNOWN,
    _core_settings,
    call,
    ok,
    register,
    template,
)


def test_every_route_succeeds_and_its_errors_conform(stack: Stack) -> None:
    ANSWERS.clear()
    device = register("1.0.7")
    ok(stack, "manage/xyte_set_config", device.id, {"config": {"input": "hdmi"}})
    ok(stack, "manage/xyte_get_config", device.id)
    ok(stack, "manage/xyte_config_versions", device.id)
    got = ok(stack, "xyte/config_get_config", device)
    ok(stack, "xyte/config_set_config", device, got)
    assert call(stack, "xyte/config_set_config", device, {"version": 0, "config": {}})[0] == 422

    command = ok(stack, "manage/xyte_send_command", device.id, {"name": "reboot"}, status=201)["data"]["id"]
    ok(stack, "manage/xyte_list_commands", device.id)
    ok(stack, "manage/xyte_get_command", device.id, command=command)
    ok(stack, "xyte/command_get_command", device)
    ok(stack, "xyte/command_pending_commands", device)
    ok(stack, "xyte/command_update_command", device, command=command)  # the event's body: done
    assert call(stack, "xyte/command_update_command", device, {"id": command, "status": "failed"})[0] == 422
    assert call(stack, "xyte/command_update_command", device, {"id": UNKNOWN, "status": "done"})[0] == 404
    other = ok(stack, "manage/xyte_send_command", device.id, {"name": "dump"}, status=201)["data"]["id"]
    ok(stack, "manage/xyte_cancel_command", device.id, command=other)
    assert call(stack, "manage/xyte_cancel_command", device.id, command=other)[0] == 409

    license_id = ok(stack, "manage/xyte_add_license", device.id, status=201)["data"]["id"]
    ok(stack, "manage/xyte_list_licenses", device.id)
    ok(stack, "manage/xyte_get_license", device.id, license=license_id)
    ok(stack, "manage/xyte_update_license", device.id, license=license_id)
    ok(stack, "xyte/licenses_get_license", device)
    ok(stack, "xyte/licenses_get_licenses", device)
    ok(stack, "xyte/licenses_update_license", device, license=license_id)
    assert call(stack, "xyte/licenses_update_license", device, {"id": license_id, "state": "error"})[0] == 422
    ok(stack, "manage/xyte_remove_license", device.id, license=license_id)
    assert call(stack, "xyte/licenses_get_license", device, key="nope")[0] == 401

    succeeded = {key for key, status in ANSWERS if status < 300}
    assert {op.route_key for op in OPERATIONS} - succeeded == set()
    assert {401, 404, 409, 422} <= {status for _, status in ANSWERS}
