"""The ThingsPro core on the template's tables and moto's KMS and IoT data plane: gateways registered
with their MQTT client body shown once, API tokens kept as digests, and remote-API requests that wait
for an offline gateway, go out one at a time in order when it connects, never go out past their
expiry, keep their secrets sealed, and take the gateway's answers (either payload form; unknown ids
dropped and counted)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iotdata.models import iotdata_backends

from fleetgate import clock
from fleetgate.domain import thingspro as tpe
from fleetgate.domain.commands import State
from fleetgate.domain.thingspro import RemoteRequest
from fleetgate.services import thingspro
from fleetgate.settings import get_settings
from tests.integration.conftest import Stack

SECRET = "broker-pass-7d1f0c"


@pytest.fixture(autouse=True)
def _env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    key = boto3.client("kms").create_key(Description="thingspro secrets")["KeyMetadata"]["KeyId"]
    monkeypatch.setenv("DEVICES_TABLE", stack.table("DevicesTable"))
    monkeypatch.setenv("RPC_TABLE", stack.table("RpcTable"))
    monkeypatch.setenv("THINGSPRO_KEY_ID", key)
    monkeypatch.setenv("THINGSPRO_MQTT_URL", "mqtts://iot.example.com:8883")
    monkeypatch.setenv("IOT_DATA_ENDPOINT", "https://data.iot.us-east-1.amazonaws.com")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def published() -> list[tuple[str, dict[str, Any]]]:
    return [
        (topic, json.loads(payload))
        for topic, payload in iotdata_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].published_payloads
    ]


def connect(gateway_id: str, version: int = 1, *, connected: bool = True) -> bool:
    return thingspro.presence(
        {
            "clientId": gateway_id,
            "timestamp": clock.now_ms(),
            "eventType": "connected" if connected else "disconnected",
            "versionNumber": version,
        }
    )


def answer(gateway_id: str, request_id: object, state: int = 200, payload: Any = None) -> Any:
    raw = json.dumps({"request-id": request_id, "state": state, "payload": payload or {"data": {}}}).encode()
    return thingspro.answered(gateway_id, raw, lambda value: value)


def put(path: str, body: Any, **kwargs: Any) -> RemoteRequest:
    return RemoteRequest("PUT", path, body, kwargs)


def everything_stored(stack: Stack) -> str:
    ddb = boto3.client("dynamodb")
    return json.dumps(
        [ddb.scan(TableName=stack.table(t))["Items"] for t in ("DevicesTable", "RpcTable")], default=str
    )


def test_a_gateway_is_registered_with_its_mqtt_client_body_and_its_key_kept_as_a_digest(stack: Stack) -> None:
    made = thingspro.register("plant-7-gateway", "Plant 7, line 2")
    config = made.configuration
    assert config is not None
    assert (config["server"], config["port"], config["certificateOverTLS"]) == ("iot.example.com", 8883, True)
    assert config["password"] == made.access_key and config["clientID"] == made.device.id
    assert config["remoteAPI"]["requestSubTopic"] == f"thingspro/{made.device.id}/api/request"
    assert made.access_key not in everything_stored(stack)
    assert thingspro.gateway(made.device.id).presence is None


def test_requests_to_an_offline_gateway_wait_then_go_one_at_a_time_in_order(stack: Stack) -> None:
    gw = thingspro.register(None).device.id
    first = thingspro.submit(gw, put("/mqtt/1/store-and-forward", {"enable": True}))
    second = thingspro.submit(gw, put("/system/sshserver", {"enable": False, "port": 22}))
    assert (first.state, second.state) == (State.QUEUED, State.QUEUED)
    assert published() == []  # offline: nothing sent

    assert connect(gw)
    assert [(t, m["path"], m["headers"][1]) for t, m in published()] == [
        (f"thingspro/{gw}/api/request", "/mqtt/1/store-and-forward", {"request-id": str(first.seq)})
    ]
    assert thingspro.request(gw, second.seq or 0).state is State.QUEUED  # waits for the first answer
    third = thingspro.submit(gw, put("/mqtt/2", {"enable": True}))  # made while one is in flight
    assert thingspro.request(gw, first.seq or 0).state is State.DELIVERED
    assert (third.state, len(published())) == (State.QUEUED, 1)

    done = answer(gw, str(first.seq), 200, {"data": {"enable": True}})
    assert done is not None and done.state is State.SUCCEEDED
    assert [m["path"] for _, m in published()] == ["/mqtt/1/store-and-forward", "/system/sshserver"]
    answer(gw, second.seq, 200, json.dumps({"data": {"enable": False, "port": 22}}))  # payload as a string
    outcome = thingspro.request(gw, second.seq or 0)
    assert outcome.state is State.SUCCEEDED
    assert outcome.result == {"state": 200, "payload": {"data": {"enable": False, "port": 22}}}
    answer(gw, third.seq, 400, {"error": {"code": 400, "message": "invalid"}})
    refused = thingspro.request(gw, third.seq or 0)
    assert (refused.state, refused.result["state"]) == (State.FAILED, 400)
    assert [m["path"] for _, m in published()][-1] == "/mqtt/2"


def test_a_request_past_its_expiry_is_never_sent(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    gw = thingspro.register(None).device.id
    stale = thingspro.submit(gw, put("/mqtt/1", {"enable": True}), lifetime_ms=10_000)
    fresh = thingspro.submit(gw, put("/mqtt/2", {"enable": True}))
    later = time.time() + 11
    monkeypatch.setattr(clock, "time", type("Later", (), {"time": staticmethod(lambda: later)}))
    connect(gw)
    assert [m["path"] for _, m in published()] == ["/mqtt/2"]
    assert thingspro.request(gw, stale.seq or 0).state is State.EXPIRED
    assert thingspro.request(gw, fresh.seq or 0).state is State.DELIVERED


def test_secrets_are_sealed_in_the_store_and_clear_only_in_the_message_to_the_gateway(stack: Stack) -> None:
    gw = thingspro.register(None).device.id
    body = {"server": "broker.example.com", "port": 1883, "password": SECRET}
    thingspro.submit(gw, RemoteRequest("POST", "/mqtt", body, {}), secret_paths=[("password",)])
    assert SECRET not in everything_stored(stack)
    pending = thingspro.open_requests(gw)[0]
    assert tpe.masked(pending.params["body"])["password"] == tpe.MASK
    connect(gw)
    assert published()[0][1]["requestBody"] == body


def test_a_sealed_secret_does_not_open_for_another_gateway(stack: Stack) -> None:
    from fleetgate.data import thingspro as store  # noqa: PLC0415
    from fleetgate.errors import CallFailed  # noqa: PLC0415

    sealed = store.encrypt(get_settings().thingspro_key_id, "gateway-a", SECRET)
    assert store.decrypt("gateway-a", sealed) == SECRET
    with pytest.raises(CallFailed):
        store.decrypt("gateway-b", sealed)


def test_answers_that_match_no_request_are_dropped_and_counted(stack: Stack) -> None:
    gw = thingspro.register(None).device.id
    sent = thingspro.submit(gw, put("/mqtt/1", {"enable": True}))
    connect(gw)
    assert answer(gw, "9999") is None
    assert answer(gw, -1, 400, {"code": 400, "message": "request time invalid(before now)"}) is None
    assert answer(gw, sent.seq) is not None
    assert answer(gw, sent.seq) is None  # a repeat
    assert thingspro.gateway(gw).dropped_answers == 3


def test_a_successful_answer_is_the_confirmed_read_and_drops_the_reads_it_changed(stack: Stack) -> None:
    gw = thingspro.register(None).device.id
    connect(gw)
    listing = thingspro.submit(
        gw, RemoteRequest("GET", "/mqtt", None, {}), effects=thingspro.Effects(confirms="/mqtt")
    )
    answer(gw, listing.seq, 200, {"data": [{"id": 1, "server": "a", "port": 1883, "password": "******"}]})
    assert thingspro.confirmed(gw, "/mqtt") is not None
    saf = thingspro.submit(
        gw,
        put("/mqtt/1/store-and-forward", {"enable": True}),
        effects=thingspro.Effects(confirms="/mqtt/1/store-and-forward", touches="/mqtt/1/store-and-forward"),
    )
    assert [c.seq for c in thingspro.pending_for(gw, "/mqtt")] == [saf.seq]
    answer(gw, saf.seq, 200, {"data": {"enable": True}})
    assert thingspro.confirmed(gw, "/mqtt") is None  # an ancestor of what changed
    kept = thingspro.confirmed(gw, "/mqtt/1/store-and-forward")
    assert kept is not None and kept.payload == {"data": {"enable": True}} and kept.request_id == saf.seq
    assert thingspro.pending_for(gw, "/mqtt") == []


def test_a_request_sent_before_a_reconnection_and_never_answered_is_failed_and_the_queue_moves_on(
    stack: Stack,
) -> None:
    gw = thingspro.register(None).device.id
    connect(gw, 1)
    lost = thingspro.submit(gw, put("/mqtt/1", {"enable": True}))
    nxt = thingspro.submit(gw, put("/mqtt/2", {"enable": True}))
    assert connect(gw, 1, connected=False)
    assert not connect(gw, 1)  # the start of the connection that ended: old news
    assert connect(gw, 2)
    failed = thingspro.request(gw, lost.seq or 0)
    assert failed.state is State.FAILED and "may or may not have applied" in (failed.reason or "")
    assert thingspro.request(gw, nxt.seq or 0).state is State.DELIVERED
    assert [m["path"] for _, m in published()] == ["/mqtt/1", "/mqtt/2"]


def test_an_api_token_is_kept_as_a_digest_and_expires(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from fleetgate.data.thingspro import ThingsProRepository  # noqa: PLC0415
    from fleetgate.domain.devices import hash_token  # noqa: PLC0415
    from fleetgate.errors import Unauthorized  # noqa: PLC0415

    token = "t" * 43
    ThingsProRepository(stack.table("DevicesTable")).put_token(
        hash_token(token), "ops", clock.now_ms() + 1000
    )
    assert thingspro.authenticate(token) == "ops"
    assert token not in everything_stored(stack)
    later = time.time() + 2
    monkeypatch.setattr(clock, "time", type("Later", (), {"time": staticmethod(lambda: later)}))
    for bad in (token, "short", None, 42):
        with pytest.raises(Unauthorized):
            thingspro.authenticate(bad)


def test_a_devices_rpc_is_no_gateway_request(stack: Stack) -> None:
    from fleetgate.dialects.thingsboard import rpc  # noqa: PLC0415
    from fleetgate.domain.commands import CommandSpec  # noqa: PLC0415
    from fleetgate.errors import NotFound  # noqa: PLC0415
    from fleetgate.services import commands as engine  # noqa: PLC0415
    from fleetgate.services import devices  # noqa: PLC0415

    # a ThingsBoard device's RPC sits in the same table, under the same kind of key, as requests do
    device, _ = devices.register("a-thingsboard-device", queues=False)
    now = clock.now_ms()
    spec = CommandSpec(name="reboot", params_json="{}", created=now, expires=now + 60_000)
    rpc_of_device, _ = engine.send(rpc.VOCABULARY, rpc.DELIVERY, device, spec)
    assert rpc_of_device.seq == 1
    for who in (device.id, "no-such-device"):
        with pytest.raises(NotFound):
            thingspro.request(who, 1)
        with pytest.raises(NotFound):
            thingspro.cancel(who, 1)
    assert engine.get(rpc.VOCABULARY, device.id, rpc_of_device.uuid).state is State.QUEUED  # not canceled
