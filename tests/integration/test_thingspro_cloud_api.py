"""The ThingsPro Cloud API per gateway, in process against moto, with the simulated gateway
(``tools.thingspro_gateway``) answering what the cloud publishes: a thread takes each remote-API request
from moto's IoT data plane, runs it on the simulator and hands its answer to the answer use case, as the
response topic's rule does.

Checked here: ThingsPro's token headers, answers in Moxa's envelopes relayed from the gateway, reads
answered from what the gateway confirmed (no request sent), 202 for an offline gateway then delivery in
order on reconnect, bad input refused in ThingsPro's error envelope with nothing stored or sent, and
secrets masked in answers and absent from the store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iotdata.models import iotdata_backends

from fleetgate import clock
from fleetgate.contracts import thingspro as moxa
from fleetgate.data.thingspro import ThingsProRepository
from fleetgate.dialects import thingspro as dialect
from fleetgate.domain.devices import hash_token
from fleetgate.services import thingspro
from fleetgate.settings import get_settings
from fleetgate_local.events import http_api_event
from tests.integration.conftest import Stack
from tools.thingspro_gateway.gateway import Gateway

TOKEN = "operator-token-for-the-thingspro-tests-0001"
SECRET = "s3cret-broker-password"
ROUTE = "ANY /thingspro/gateways/{gateway_id}/api/v1/{proxy+}"  # the template's one greedy route


@pytest.fixture(autouse=True)
def _env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    key = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
    monkeypatch.setenv("DEVICES_TABLE", stack.table("DevicesTable"))
    monkeypatch.setenv("RPC_TABLE", stack.table("RpcTable"))
    monkeypatch.setenv("THINGSPRO_KEY_ID", key)
    monkeypatch.setenv("THINGSPRO_MQTT_URL", "mqtt://localhost:1883")
    monkeypatch.setenv("IOT_DATA_ENDPOINT", "https://data.iot.us-east-1.amazonaws.com")
    monkeypatch.setenv("LONG_POLL_CAP_SECONDS", "5")
    monkeypatch.setenv("FILES_BUCKET", stack.provisioned.physical_ids["FilesBucket"])
    get_settings.cache_clear()
    ThingsProRepository(stack.table("DevicesTable")).put_token(
        hash_token(TOKEN), "ops", clock.now_ms() + 600_000
    )
    yield
    get_settings.cache_clear()


class Simulated:
    """The gateway on the far side of the IoT data plane: answers each request published to it."""

    def __init__(self, gateway_id: str) -> None:
        self.id = gateway_id
        self.gateway = Gateway()
        # client 1: the gateway's own MQTT client, the one connected to the cloud
        self.gateway.add_mqtt_client(thingspro.register(None).configuration or {"server": "x", "port": 1})
        self.seen = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def published(self) -> list[dict[str, Any]]:
        payloads = iotdata_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].published_payloads
        return [json.loads(p) for t, p in list(payloads) if t == f"thingspro/{self.id}/api/request"]

    def _serve(self) -> None:
        while not self.stop.wait(0.05):
            requests = self.published()
            for message in requests[self.seen :]:
                self.seen += 1
                answer = self.gateway.handle(json.dumps(message).encode(), datetime.now(UTC))
                if answer is not None:
                    thingspro.answered(self.id, json.dumps(answer).encode(), moxa.mask)


@pytest.fixture
def online(stack: Stack) -> Iterator[Simulated]:
    gw = Simulated(thingspro.register(None).device.id)
    presence(gw.id, True, 1)
    gw.thread.start()
    yield gw
    gw.stop.set()
    gw.thread.join(5)


def presence(gateway_id: str, connected: bool, version: int) -> None:
    thingspro.presence(
        {
            "clientId": gateway_id,
            "timestamp": clock.now_ms(),
            "eventType": "connected" if connected else "disconnected",
            "versionNumber": version,
        }
    )


def call(
    method: str,
    gateway_id: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    query: str | None = None,
    form: list[tuple[str, bytes]] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    raw = None if body is None else json.dumps(body).encode()
    sent = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    if form is not None:
        raw = (
            b"".join(
                b'--fleetgate-form-7d1\r\nContent-Disposition: form-data; name="'
                + name.encode()
                + b'"\r\n\r\n'
                + data
                + b"\r\n"
                for name, data in form
            )
            + b"--fleetgate-form-7d1--\r\n"
        )
        sent["content-type"] = "multipart/form-data; boundary=fleetgate-form-7d1"
    event = http_api_event(
        method,
        f"/thingspro/gateways/{gateway_id}/api/v1{path}",
        route_key=ROUTE,
        path_parameters={"gateway_id": gateway_id, "proxy": path[1:]},
        headers=sent if headers is None else headers,
        query=query,
        body=raw,
    )
    answer = dialect.handle(event, moxa)
    text = answer.get("body") or "null"
    return answer["statusCode"], json.loads(text), answer.get("headers", {})


def stored(stack: Stack) -> str:
    ddb = boto3.client("dynamodb")
    return json.dumps([ddb.scan(TableName=stack.table(t))["Items"] for t in ("DevicesTable", "RpcTable")])


def test_a_change_is_applied_by_the_gateway_and_answered_in_moxas_envelope(online: Simulated) -> None:
    body = {"enable": True, "targetDiskName": "System", "desiredDiskCacheSizeMB": 64, "timeToLiveSec": 7200}
    status, answer, _ = call("PUT", online.id, "/mqtt/1/store-and-forward", body)
    assert status == 200, answer
    assert answer["data"]["enable"] is True and answer["data"]["desiredDiskCacheSizeMB"] == 64
    assert online.gateway.applied[-1][1:] == ("PUT", "/mqtt/1/store-and-forward")


def test_a_read_answers_what_the_gateway_confirmed_without_asking_it_again(online: Simulated) -> None:
    status, first, _ = call("GET", online.id, "/aws")
    assert status == 200, first
    asked = len(online.published())
    status, again, headers = call("GET", online.id, "/aws")
    assert (status, again) == (200, first)
    assert len(online.published()) == asked and headers["X-Fleetgate-Pending"] == "0"


def test_a_runtime_read_always_asks_the_gateway(online: Simulated) -> None:
    call("GET", online.id, "/mqtt/monitor")
    asked = len(online.published())
    status, answer, _ = call("GET", online.id, "/mqtt/monitor")
    assert status == 200 and "clients" in answer["data"]
    assert len(online.published()) == asked + 1


def test_an_offline_gateway_gets_its_changes_in_order_when_it_connects(stack: Stack) -> None:
    gw = Simulated(thingspro.register(None).device.id)
    first = call("PUT", gw.id, "/mqtt/1/store-and-forward", {"enable": True})
    second = call("PUT", gw.id, "/mqtt/1/store-and-forward", {"enable": False, "timeToLiveSec": 600})
    assert (first[0], second[0]) == (202, 202)
    assert first[1]["data"]["state"] == "queued" and int(second[1]["data"]["requestId"]) > int(
        first[1]["data"]["requestId"]
    )
    status, _, headers = call("GET", gw.id, "/mqtt/1/store-and-forward")
    assert status == 202 and headers.get("X-Fleetgate-Pending") is None  # nothing confirmed yet: asked too
    assert gw.published() == []

    presence(gw.id, True, 1)
    gw.thread.start()
    try:
        deadline = clock.now_ms() + 10_000
        while len(gw.gateway.applied) < 3 and clock.now_ms() < deadline:
            threading.Event().wait(0.05)
    finally:
        gw.stop.set()
        gw.thread.join(5)
    assert [a[1:] for a in gw.gateway.applied] == [("PUT", "/mqtt/1/store-and-forward")] * 2 + [
        ("GET", "/mqtt/1/store-and-forward")
    ]
    assert gw.gateway.state["mqtt"]["storeAndForward"]["1"]["enable"] is False  # applied in order
    outcome = thingspro.request(gw.id, int(second[1]["data"]["requestId"]))
    assert outcome.result["state"] == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "style"),
    [
        ("PUT", "/mqtt/1/store-and-forward", {"enable": "yes"}, "core"),
        ("POST", "/mqtt", {"server": "b", "port": 1883, "keepAliveSec": 5}, "core"),
        ("PUT", "/sparkplug", {"groupID": "a/b", "nodeID": "n"}, "core"),
        ("PUT", "/mqtt/0/store-and-forward", {"enable": True}, "core"),
        ("PATCH", "/azure-iotedge", {"provisioning": {"source": "somewhere"}}, "text"),
        ("PUT", "/aws", {"provisioning": {"unknown": 1}}, "core"),
    ],
)
def test_bad_input_is_400_in_thingspros_envelope_and_nothing_is_stored_or_sent(
    stack: Stack, online: Simulated, *, method: str, path: str, body: Any, style: str
) -> None:
    before, published = stored(stack), len(online.published())
    status, answer, _ = call(method, online.id, path, body)
    assert status == 400
    if style == "text":
        assert isinstance(answer["error"], str) and answer["error"]
    else:
        assert answer["error"]["code"] == 400 and answer["error"]["message"]
    assert stored(stack) == before and len(online.published()) == published


def test_a_secret_is_masked_in_the_answer_and_never_stored_in_clear(stack: Stack, online: Simulated) -> None:
    status, answer, _ = call(
        "POST", online.id, "/mqtt", {"server": "broker.example.com", "port": 8883, "password": SECRET}
    )
    assert status == 200, answer
    assert {c.get("password") for c in answer["data"]} <= {moxa.MASK, None, ""}
    assert SECRET not in json.dumps(answer) and SECRET not in stored(stack)
    assert any(c.get("password") == SECRET for c in online.gateway.state["mqtt"]["clients"])  # it got it


def test_requests_need_a_thingspro_token_in_either_header(online: Simulated) -> None:
    assert call("GET", online.id, "/aws", headers={"mx-api-token": TOKEN})[0] == 200
    for headers in ({}, {"authorization": "Bearer nope-nope-nope-nope"}, {"authorization": TOKEN}):
        status, answer, _ = call("GET", online.id, "/aws", headers=headers)
        assert (status, answer["error"]["code"]) == (401, 401)


def test_an_unknown_gateway_is_404(online: Simulated) -> None:
    status, answer, _ = call("GET", "6b8c3b5a-0000-4000-8000-000000000000", "/aws")
    assert (status, answer["error"]["code"]) == (404, 404)


def test_a_path_the_gateway_has_not_is_thingspros_404_and_another_method_405(online: Simulated) -> None:
    assert call("GET", online.id, "/no/such/thing")[:2] == (
        404,
        {"error": {"code": 404, "message": "page not found"}},
    )
    status, answer, _ = call("DELETE", online.id, "/aws")
    assert (status, answer["error"]["code"]) == (405, 405)
    assert online.published() == []


# --------------------------------------------------------------------------- message groups
def published_by_gateway(gateway_id: str, tail: str, payload: dict[str, Any]) -> Any:
    from fleetgate.dialects.thingspro import mqtt  # noqa: PLC0415
    from fleetgate.mqtt import Message  # noqa: PLC0415

    topic = f"thingspro/{gateway_id}/messages/{tail}"
    return mqtt.on_messages(
        Message(topic, json.dumps(payload).encode(), client_id=gateway_id, timestamp_ms=clock.now_ms())
    )


DEFAULT_MESSAGE = {
    "tags": {
        "system": {
            "system": {"cpuUsage": {"values": [{"updateTimeStamp": "2026-12-01T10:00:00Z", "value": 60}]}}
        },
        "modbus_tcp_master": {
            "A1": {
                "status": {
                    "values": [
                        {"updateTimeStamp": "2026-12-01T10:00:00.250Z", "value": 10},
                        {"updateTimeStamp": "2026-12-01T10:00:01.250Z", "value": 11},
                    ]
                }
            }
        },
    }
}


def test_the_default_format_becomes_one_telemetry_series_per_tag(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleetgate.services import telemetry  # noqa: PLC0415

    monkeypatch.setenv("TELEMETRY_TABLE", stack.table("TelemetryTable"))
    get_settings.cache_clear()
    gw = thingspro.register(None).device.id
    assert published_by_gateway(gw, "plant-1", DEFAULT_MESSAGE).value == {"timestamps": 3}
    history = telemetry.history(gw, None, 0, clock.now_ms(), 10)
    assert {k: [(v.ts, v.value) for v in vs] for k, vs in history.items()} == {
        "system/system/cpuUsage": [(1796119200000, 60)],
        "modbus_tcp_master/A1/status": [(1796119201250, 11), (1796119200250, 10)],
    }
    published_by_gateway(gw, "custom/line-2", {"temperature": 21.5, "at": "now"})
    assert telemetry.latest(gw)["custom/line-2"].value == {"temperature": 21.5, "at": "now"}


def test_messages_test_runs_the_format_in_the_cloud_on_the_tags_latest_values(
    stack: Stack, online: Simulated, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    monkeypatch.setenv("TELEMETRY_TABLE", stack.table("TelemetryTable"))
    get_settings.cache_clear()
    published_by_gateway(online.id, "plant-1", DEFAULT_MESSAGE)
    fmt = "{time: (now|todateiso8601), (.srcName): {(.tagName): .dataValue}}"
    tag = {"srcName": "system", "tagName": "cpuUsage", "dataType": "int32", "duration": 1000, "access": "ro"}
    asked = len(online.published())

    status, answer, _ = call("PUT", online.id, "/mqtt/1/messages/test", {"format": fmt, "tags": [tag]})

    assert status == 200 and answer["error"] == ""
    assert answer["data"]["system"] == {"cpuUsage": 60}
    assert answer["data"]["time"].endswith("Z")
    assert len(online.published()) == asked  # evaluated in the cloud: nothing sent
    if shutil.which("jq"):  # what jq itself makes of the same record (but its clock)
        record = {
            "prvdName": "system",
            "srcName": "system",
            "tagName": "cpuUsage",
            "dataType": "int32",
            "dataValue": 60,
        }
        cli = subprocess.run(
            ["jq", "-c", fmt], input=json.dumps(record), capture_output=True, text=True, check=True
        )
        expected = json.loads(cli.stdout)
        assert {k: v for k, v in answer["data"].items() if k != "time"} == {
            k: v for k, v in expected.items() if k != "time"
        }


def test_a_message_group_with_a_broken_format_is_refused_before_it_is_sent(
    stack: Stack, online: Simulated
) -> None:
    before, asked = stored(stack), len(online.published())
    group = {
        "enable": True,
        "outputTopic": f"thingspro/{online.id}/messages/a",
        "format": "{tags: (.x",
        "tags": {},
        "sendOutThreshold": {"mode": "immediately"},
    }
    status, answer, _ = call("POST", online.id, "/mqtt/1/messages", group)
    assert status == 400 and answer["error"]["message"].startswith("format:")
    assert stored(stack) == before and len(online.published()) == asked


# --------------------------------------------------------------------------- multipart forms and files
KEY_PEM = b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
CERT_PEM = b"-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkq\n-----END CERTIFICATE-----\n"


def test_a_form_reaches_the_gateway_as_json_and_its_files_are_kept_encrypted(
    stack: Stack, online: Simulated
) -> None:
    form = [
        ("caCertFile", CERT_PEM),
        ("caPkFile", KEY_PEM),
        ("connectionString", b"HostName=h;DeviceId=d;SharedAccessKey=k"),
        ("protocol", b"amqp"),
    ]
    status, answer, _ = call("POST", online.id, "/azure-device", form=form)
    assert status == 200, answer
    sent = online.published()[-1]
    assert sent["requestBody"] == {name: data.decode() for name, data in form}
    assert KEY_PEM.decode() not in stored(stack)  # the key was sealed in the stored request
    s3 = boto3.client("s3")
    bucket = stack.provisioned.physical_ids["FilesBucket"]
    kept = s3.list_objects_v2(Bucket=bucket, Prefix=f"thingspro/{online.id}/uploads/")["Contents"]
    assert sorted(k["Key"].rsplit("/", 1)[1] for k in kept) == ["caCertFile", "caPkFile"]
    head = s3.head_object(Bucket=bucket, Key=kept[0]["Key"])
    assert head["ServerSideEncryption"] == "aws:kms"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ([("connectionString", b"")], "connectionString: must not be empty"),
        ([("protocol", b"carrier-pigeon")], "protocol: must be one of"),
        ([("firmware", CERT_PEM)], "firmware: is not a field of this form"),
    ],
)
def test_a_bad_form_is_400_and_nothing_is_kept_or_sent(
    stack: Stack, online: Simulated, form: list[tuple[str, bytes]], message: str
) -> None:
    before, asked = stored(stack), len(online.published())
    status, answer, _ = call("POST", online.id, "/azure-device", form=form)
    assert status == 400 and answer["error"]["message"].startswith(message), answer
    assert stored(stack) == before and len(online.published()) == asked


def test_a_form_refused_for_its_headers_keeps_no_file(stack: Stack, online: Simulated) -> None:
    headers = {"authorization": f"Bearer {TOKEN}", "x-fleetgate-expires-in": "soon"}
    event_form = [("caCertFile", CERT_PEM)]
    body = (
        b"".join(
            b'--fleetgate-form-7d1\r\nContent-Disposition: form-data; name="'
            + n.encode()
            + b'"\r\n\r\n'
            + d
            + b"\r\n"
            for n, d in event_form
        )
        + b"--fleetgate-form-7d1--\r\n"
    )
    event = http_api_event(
        "POST",
        f"/thingspro/gateways/{online.id}/api/v1/azure-iotedge/certificates",
        route_key=ROUTE,
        path_parameters={"gateway_id": online.id, "proxy": "azure-iotedge/certificates"},
        headers={**headers, "content-type": "multipart/form-data; boundary=fleetgate-form-7d1"},
        body=body,
    )
    assert dialect.handle(event, moxa)["statusCode"] == 400
    bucket = stack.provisioned.physical_ids["FilesBucket"]
    assert (
        boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"thingspro/{online.id}/").get("KeyCount")
        == 0
    )


def test_a_brokers_form_fields_take_their_json_types(online: Simulated) -> None:
    form = [
        ("server", b"broker.example.com"),
        ("port", b"8883"),
        ("enable", b"true"),
        ("caCertFile", CERT_PEM),
    ]
    status, answer, _ = call("POST", online.id, "/sparkplug/brokers", form=form)
    assert status == 200, answer
    assert online.published()[-1]["requestBody"] == {
        "server": "broker.example.com",
        "port": 8883,
        "enable": True,
        "caCertFile": CERT_PEM.decode(),
    }
    assert call("POST", online.id, "/sparkplug/brokers", form=[("port", b"many")])[0] == 400


def test_the_sparkplug_configuration_download_is_a_zip_and_is_kept(stack: Stack, online: Simulated) -> None:
    import io  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    event = http_api_event(
        "GET",
        f"/thingspro/gateways/{online.id}/api/v1/sparkplug/configuration",
        route_key=ROUTE,
        path_parameters={"gateway_id": online.id, "proxy": "sparkplug/configuration"},
        headers={"authorization": f"Bearer {TOKEN}", "password": "zip-password-1"},
    )
    answer = dialect.handle(event, moxa)
    assert answer["statusCode"] == 200 and answer["headers"]["content-type"] == "application/zip"
    blob = __import__("base64").b64decode(answer["body"]) if answer.get("isBase64Encoded") else answer["body"]
    assert zipfile.ZipFile(io.BytesIO(blob)).namelist()
    bucket = stack.provisioned.physical_ids["FilesBucket"]
    kept = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"thingspro/{online.id}/downloads/")
    assert [k["Key"].rsplit("/", 1)[1] for k in kept["Contents"]] == ["sparkplug-configuration.zip"]
