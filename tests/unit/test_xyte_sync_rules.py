"""The pure rules of Xyte config, commands and licenses (``fleetgate.domain.xyte_sync``) and the
dialect's parsers (``fleetgate.dialects.xyte.sync``): versions, shapes by model API version, the
command vocabulary, license changes and answers, and what a device may send."""

from __future__ import annotations

import uuid

import pytest

from fleetgate.dialects.xyte import sync
from fleetgate.domain.commands import State
from fleetgate.domain.xyte import Identity, XyteDevice
from fleetgate.domain.xyte_sync import (
    VOCABULARY,
    ConfigVersion,
    DeviceConfig,
    acknowledged,
    changed,
    check_expires_at,
    command_request,
    config_body,
    device_change,
    new_license,
)
from fleetgate.errors import Conflict, InvalidRequest, PayloadTooLarge

ID = "8f14e45f-ceea-467f-a0e6-1a6b8c3b5a11"


def record(api_version: str) -> XyteDevice:
    return XyteDevice(ID, "model", api_version, Identity("c", None, None), "1.0.0", registered_at=0)


CURRENT = ConfigVersion(ID, 3, "default", {"input": "hdmi"}, 1_795_341_600_000, "operator")


def test_config_bodies_by_model_api_version() -> None:
    assert config_body(CURRENT, record("1.0.4")) == {
        "input": "hdmi",
        "version": 3,
        "last_updated": "2026-11-22T10:00:00.000Z",
    }
    assert config_body(CURRENT, record("1.0.5")) == {
        "name": "default",
        "version": 3,
        "last_updated": "2026-11-22T10:00:00.000Z",
        "config": {"input": "hdmi"},
    }
    assert config_body(CURRENT, record("1.0.7"))["device_id"] == ID


def test_a_device_change_is_refused_when_older_acknowledged_when_unchanged_else_next() -> None:
    with pytest.raises(Conflict, match="older"):
        device_change(CURRENT, DeviceConfig({"input": "vga"}, 2, None))
    assert device_change(CURRENT, DeviceConfig({"input": "hdmi"}, 3, None)) is None
    assert device_change(CURRENT, DeviceConfig({"input": "hdmi"}, None, "default")) is None
    made = device_change(CURRENT, DeviceConfig({"input": "vga"}, 9, None))
    assert made is not None and (made.version, made.source) == (4, "device")  # the server numbers
    renamed = device_change(CURRENT, DeviceConfig({"input": "hdmi"}, 3, "other"))
    assert renamed is not None and renamed.name == "other"


def test_the_vocabulary_has_one_word_per_state_and_refuses_with_a_conflict() -> None:
    assert [
        VOCABULARY.status(s) for s in (State.DELIVERED, State.IN_PROGRESS, State.SUCCEEDED, State.FAILED)
    ] == ["pending", "in_progress", "done", "failed"]
    assert sync.command_status("error") is sync.command_status("failed") is State.FAILED
    with pytest.raises(InvalidRequest):
        sync.command_status("pending")


def test_command_requests() -> None:
    assert command_request("reboot").timeout_s == 86_400
    assert command_request("x", {"a": 1}, 5).params_json == '{"a":1}'
    for args in (
        ("",),
        ("reboot", []),
        ("reboot", None, 0),
        ("reboot", None, True),
        ("update_firmware", {"version": "1"}),
        ("update_firmware", {"url": "u", "version": 1}),
    ):
        with pytest.raises(InvalidRequest):
            command_request(*args)
    with pytest.raises(PayloadTooLarge):
        command_request("x", {"blob": "x" * 70_000})


def test_license_changes_and_answers() -> None:
    added = new_license(ID, "l1", data="d", signature="s", expires_at=None, now=1)
    inuse = acknowledged(added, "inuse", None, 2)
    assert inuse is not None and not inuse.pending
    assert acknowledged(inuse, "inuse", None, 3) is None  # a repeat
    with pytest.raises(Conflict):
        acknowledged(inuse, "removed", None, 3)
    removing = changed(inuse, 4, "remove")
    assert (removing.state, removing.action, removing.revision) == ("pending", "remove", 2)
    with pytest.raises(Conflict):
        changed(removing, 5, "update")


def test_expiry_dates_need_a_zone_and_are_written_in_utc() -> None:
    assert check_expires_at("2028-01-01T00:00:00+01:00") == "2027-12-31T23:00:00.000Z"
    assert check_expires_at(None) is None
    for bad in ("2028-01-01T00:00:00", "soon", 5):
        with pytest.raises(InvalidRequest):
            check_expires_at(bad)


def test_parsers_read_configs_by_model_api_version() -> None:
    flat = sync.parse_config(
        {"input": "vga", "version": 2, "last_updated": "x", "device_id": ID}, record("1.0.4")
    )
    assert (flat.config, flat.version) == ({"input": "vga"}, 2)
    scoped = sync.parse_config({"config": {"input": "vga"}, "name": "n"}, record("1.0.5"))
    assert (scoped.config, scoped.name, scoped.version) == ({"input": "vga"}, "n", None)
    for body in ({"input": "vga"}, {"config": {}, "x": 1}, {"config": {}, "device_id": "other"}):
        with pytest.raises(InvalidRequest):
            sync.parse_config(body, record("1.0.7"))


def test_mqtt_answers_are_named_by_correlation_data_or_id_and_both_must_agree() -> None:
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    assert sync.correlated_id(None, one.encode(), "command") == one
    assert sync.correlated_id(one.upper(), None, "command") == one
    assert sync.correlated_id(one, one.encode(), "command") == one
    for body_id, correlation in ((two, one.encode()), (None, None), (None, b"abc"), ("abc", None)):
        with pytest.raises(InvalidRequest):
            sync.correlated_id(body_id, correlation, "command")
    assert sync.config_version_from(b"12") == 12
    with pytest.raises(InvalidRequest):
        sync.config_version_from(b"-1")
