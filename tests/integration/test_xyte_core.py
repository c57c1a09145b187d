"""The Xyte core on the template's registry table: models with a hardware key shown once, devices
registered once per Cloud ID or MAC + serial number, access keys that open their own device only,
and deletion that frees a registration's identity for the same hardware."""

from __future__ import annotations

import boto3
import pytest

from fleetgate.domain.xyte import Identity
from fleetgate.errors import Conflict, Forbidden, NotFound, Unauthorized
from fleetgate.services import devices, xyte
from fleetgate.services.xyte import Registration
from fleetgate.settings import get_settings
from tests.integration.conftest import Stack


@pytest.fixture(autouse=True)
def _registry(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVICES_TABLE", stack.table("DevicesTable"))
    monkeypatch.setenv("SHADOWS_TABLE", stack.table("ShadowsTable"))
    monkeypatch.setenv("SHADOW_HISTORY_TABLE", stack.table("ShadowHistoryTable"))
    monkeypatch.setenv("TELEMETRY_TABLE", stack.table("TelemetryTable"))
    monkeypatch.setenv("JOBS_TABLE", stack.table("JobsTable"))
    get_settings.cache_clear()


def _items(stack: Stack) -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=stack.table("DevicesTable"))["Items"]


def test_a_model_keeps_only_the_digest_of_its_hardware_key(stack: Stack) -> None:
    model, key = xyte.create_model("Projector X1", "1.0.4")
    assert len(key) == 32 and xyte.model_for_hardware_key(key) == model
    assert key not in repr(_items(stack))
    with pytest.raises(NotFound):
        xyte.model_for_hardware_key("0" * 32)
    chosen, same = xyte.create_model("Legacy", hardware_key="fleet-key-embedded-1")
    assert same == "fleet-key-embedded-1" and xyte.model_for_hardware_key(same) == chosen
    with pytest.raises(Conflict):
        xyte.create_model("Another", hardware_key="fleet-key-embedded-1")
    with pytest.raises(Conflict):
        xyte.create_model("Legacy")


def test_a_device_registers_once_per_cloud_id_and_once_per_mac_and_serial(stack: Stack) -> None:
    model, _ = xyte.create_model("Display", "1.0.7")
    record, access_key = xyte.register(
        model, Registration(Identity("cloud-1", None, None), "1.0.1", name="test device")
    )
    assert record.api_version == "1.0.7" and record.model_id == model.id
    assert devices.get(record.device_id).name == record.device_id
    assert devices.get(record.device_id).label == "test device"
    assert devices.get(record.device_id).queues == {}
    before = len(_items(stack))
    with pytest.raises(Conflict, match="already registered"):
        xyte.register(model, Registration(Identity("cloud-1", None, None), "1.0.1"))
    assert len(_items(stack)) == before  # nothing written
    xyte.register(model, Registration(Identity(None, "AA:BB:CC:DD:EE:FF", "112"), "1.0.1"))
    with pytest.raises(Conflict):
        xyte.register(model, Registration(Identity("cloud-2", "AA:BB:CC:DD:EE:FF", "112"), "1.0.1"))
    assert xyte.authenticate(access_key, record.device_id).record == record


def test_an_access_key_opens_its_own_device_only(stack: Stack) -> None:
    model, _ = xyte.create_model("Display", "1.0.7")
    a, key_a = xyte.register(model, Registration(Identity("a", None, None), "1.0.1"))
    b, _ = xyte.register(model, Registration(Identity("b", None, None), "1.0.1"))
    with pytest.raises(Forbidden):
        xyte.authenticate(key_a, b.device_id)
    with pytest.raises(Unauthorized):
        xyte.authenticate("not-a-key", a.device_id)
    with pytest.raises(Unauthorized):
        xyte.authenticate(None, a.device_id)
    plain, token = devices.register("thingsboard-1", queues=False)
    with pytest.raises(Forbidden, match="not a Xyte device"):
        xyte.authenticate(token, plain.id)


def test_deleting_a_device_frees_its_identity_and_stops_its_key(stack: Stack) -> None:
    model, _ = xyte.create_model("Display", "1.0.7")
    identity = Identity("cloud-9", "AA:BB:CC:DD:EE:01", "7")
    record, key = xyte.register(model, Registration(identity, "1.0.1"))
    devices.delete(record.device_id)
    with pytest.raises(Unauthorized):
        xyte.authenticate(key, record.device_id)
    again, _ = xyte.register(model, Registration(identity, "1.0.1"))
    assert again.device_id != record.device_id
    assert not any(i["pk"]["S"].startswith(f"DEVICE#{record.device_id}") for i in _items(stack))
