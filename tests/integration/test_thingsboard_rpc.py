"""ThingsBoard RPC device routes, handlers in process against moto: server-side RPC
(``GET /api/v1/{token}/rpc`` long-poll, ``POST /api/v1/{token}/rpc/{id}`` reply) and client-side RPC
(``POST /api/v1/{token}/rpc``), including the deployer's handler function behind a fake Lambda endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest

from fleetgate.dialects.thingsboard import rpc as rpc_service
from fleetgate.dialects.thingsboard.rpc import rpc_request
from fleetgate.services import devices, reset_caches
from fleetgate_local.inprocess import InProcessFunctions
from fleetgate_local.template import Template
from tests.integration.conftest import Device, Stack, create_device, event, with_body, with_query

POLL = "TbGetRpcFunction"
REPLY = "TbPostRpcReplyFunction"
CLIENT = "TbPostClientRpcFunction"
ROOT = Path(__file__).resolve().parents[2]
LIMIT_MESSAGE = '"Payload size exceeds the limit of 65536 bytes"'


# --------------------------------------------------------------------------- helpers
def send(stack: Stack, device: Device, **body: Any) -> dict[str, Any]:
    """Queue an RPC through the operator API (persistent unless said otherwise: answered at once)."""
    payload = {"method": "setGpio", "params": {"pin": 7}, "persistent": True} | body
    response = stack.invoke(
        "ManageRpcFunction", with_body(event("manage/send_rpc", device_id=device.id), json.dumps(payload))
    )
    assert response["statusCode"] == 200, response
    data: dict[str, Any] = json.loads(response["body"])["data"]
    return data


def poll(stack: Stack, device: Device, timeout: str = "1") -> dict[str, Any]:
    return stack.invoke(
        POLL, with_query(event("thingsboard/get_rpc", token=device.token), {"timeout": timeout})
    )


def polled(stack: Stack, device: Device) -> dict[str, Any]:
    response = poll(stack, device)
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json.loads(response["body"])
    return body


def reply(stack: Stack, device: Device, rpc_id: str, body: str | None) -> dict[str, Any]:
    ev = with_body(event("thingsboard/post_rpc_reply", token=device.token), body)
    ev["pathParameters"]["requestId"] = rpc_id
    ev["rawPath"] = ev["requestContext"]["http"]["path"] = f"/api/v1/{device.token}/rpc/{rpc_id}"
    return stack.invoke(REPLY, ev)


def status(stack: Stack, device: Device, rpc_uuid: str) -> dict[str, Any]:
    ev = event("manage/get_rpc", device_id=device.id)
    ev["pathParameters"]["rpcId"] = rpc_uuid
    ev["rawPath"] = ev["requestContext"]["http"]["path"] = f"/manage/v1/devices/{device.id}/rpc/{rpc_uuid}"
    response = stack.invoke("ManageRpcFunction", ev)
    assert response["statusCode"] == 200, response
    data: dict[str, Any] = json.loads(response["body"])["data"]
    return data


def client_rpc(stack: Stack, device: Device, body: str | None) -> dict[str, Any]:
    return stack.invoke(CLIENT, with_body(event("thingsboard/post_client_rpc", token=device.token), body))


def rpc_items(stack: Stack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=stack.table("RpcTable"))["Items"]
    return sorted(items, key=lambda i: (i["deviceId"]["S"], int(i["seq"]["N"])))


# --------------------------------------------------------------------------- GET /rpc
def test_rpc_sent_while_the_device_was_not_polling_is_delivered_on_its_next_poll(
    stack: Stack, device: Device
) -> None:
    sent = send(stack, device, method="setGpio", params={"pin": 7, "value": 1})

    response = poll(stack, device)

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert json.loads(response["body"]) == {"id": 1, "method": "setGpio", "params": {"pin": 7, "value": 1}}
    assert status(stack, device, sent["rpcId"])["status"] == "DELIVERED"


def test_ids_start_at_1_and_count_per_device(stack: Stack, device: Device) -> None:
    other = create_device(stack, "other-device")

    ids = [send(stack, device)["id"], send(stack, device)["id"], send(stack, other)["id"]]

    assert ids == [1, 2, 1]


def test_nothing_queued_is_408_with_an_empty_body(stack: Stack, device: Device) -> None:
    started = time.monotonic()

    response = poll(stack, device, "1000")

    assert (response["statusCode"], response["body"]) == (408, "")
    assert 0.9 <= time.monotonic() - started < 5


def test_an_rpc_sent_during_the_poll_wakes_it(stack: Stack, device: Device) -> None:
    result: dict[str, Any] = {}
    poll(stack, device)  # the poll function's environment is now the active one

    def waiting_poll() -> None:
        started = time.monotonic()
        result["response"] = poll(stack, device, "15000")
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=waiting_poll)
    thread.start()
    time.sleep(1.5)
    rpc_service.send(
        devices.get(device.id), rpc_request(method="wake", oneway=True, now=rpc_service.now_ms())
    )
    thread.join(20)

    assert json.loads(result["response"]["body"]) == {"id": 1, "method": "wake", "params": {}}
    assert result["seconds"] < 8


def test_an_expired_rpc_is_never_delivered_and_is_recorded_expired(stack: Stack, device: Device) -> None:
    sent = send(stack, device, expirationTime=rpc_service.now_ms() + 300)
    time.sleep(0.4)

    response = poll(stack, device)

    assert response["statusCode"] == 408
    assert status(stack, device, sent["rpcId"])["status"] == "EXPIRED"
    assert rpc_items(stack)[1]["status"] == {"S": "EXPIRED"}  # recorded, not only shown
    assert "openSeq" not in rpc_items(stack)[1]


def test_a_delivered_unanswered_rpc_times_out(stack: Stack, device: Device) -> None:
    sent = send(stack, device, expirationTime=rpc_service.now_ms() + 400)
    assert polled(stack, device)["id"] == 1
    time.sleep(0.5)

    assert poll(stack, device)["statusCode"] == 408
    assert status(stack, device, sent["rpcId"])["status"] == "TIMEOUT"
    assert reply(stack, device, "1", '{"late": true}')["statusCode"] == 200  # dropped, as ThingsBoard does
    assert "response" not in status(stack, device, sent["rpcId"])


def test_a_one_way_rpc_is_delivered_once_and_is_then_successful(stack: Stack, device: Device) -> None:
    sent = send(stack, device, method="blink", oneway=True, persistent=False)

    first, second = poll(stack, device), poll(stack, device)

    assert json.loads(first["body"])["method"] == "blink"
    assert second["statusCode"] == 408
    assert status(stack, device, sent["rpcId"])["status"] == "SUCCESSFUL"


def test_an_unanswered_two_way_rpc_is_delivered_again_and_holds_back_the_next(
    stack: Stack, device: Device
) -> None:
    """ThingsBoard's head-of-line re-delivery: the first pending RPC goes out on every poll."""
    first = send(stack, device, method="first")
    second = send(stack, device, method="second", oneway=True, persistent=False)

    bodies = [polled(stack, device), polled(stack, device)]
    reply(stack, device, "1", '{"done": 1}')
    after_reply = polled(stack, device)

    assert [b["method"] for b in bodies] == ["first", "first"]
    assert after_reply == {"id": 2, "method": "second", "params": {"pin": 7}}
    assert status(stack, device, first["rpcId"])["deliveries"] == 2
    assert status(stack, device, second["rpcId"])["status"] == "SUCCESSFUL"
    assert poll(stack, device)["statusCode"] == 408


def test_retries_bound_redelivery_and_then_the_rpc_fails(stack: Stack, device: Device) -> None:
    sent = send(stack, device, retries=1)

    assert polled(stack, device)["id"] == 1
    assert polled(stack, device)["id"] == 1

    assert poll(stack, device)["statusCode"] == 408
    assert status(stack, device, sent["rpcId"])["status"] == "FAILED"


def test_a_canceled_rpc_is_never_delivered(stack: Stack, device: Device) -> None:
    sent = send(stack, device)
    rpc_service.cancel(device.id, sent["rpcId"])

    assert poll(stack, device)["statusCode"] == 408


def test_non_integer_timeout_is_400_and_delivers_nothing(stack: Stack, device: Device) -> None:
    sent = send(stack, device)

    response = poll(stack, device, "soon")

    assert response["statusCode"] == 400
    assert "timeout" in response["body"]
    assert status(stack, device, sent["rpcId"])["status"] == "QUEUED"


# --------------------------------------------------------------------------- POST /rpc/{id}
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"result": "ok", "value": 42.5}', {"result": "ok", "value": 42.5}),
        ("[1, 2]", [1, 2]),
        ('"quoted"', "quoted"),
        ("plain text, not JSON", "plain text, not JSON"),
    ],
)
def test_a_reply_completes_the_rpc_as_json_or_text(
    stack: Stack, device: Device, body: str, expected: Any
) -> None:
    sent = send(stack, device)
    polled(stack, device)

    response = reply(stack, device, "1", body)

    assert (response["statusCode"], response["body"]) == (200, "")
    done = status(stack, device, sent["rpcId"])
    assert (done["status"], done["response"]) == ("SUCCESSFUL", expected)
    assert done["completedTime"] >= done["deliveredTime"] >= done["createdTime"]


def test_the_sdk_style_reply_object_is_the_response(stack: Stack, device: Device) -> None:
    """``send_rpc("reply", {...}, rpc_id=N)`` posts ``{"method", "params"}`` to /rpc/N."""
    sent = send(stack, device)
    polled(stack, device)

    reply(stack, device, "1", json.dumps({"method": "reply", "params": {"gpio": 7, "state": "on"}}))

    assert status(stack, device, sent["rpcId"])["response"] == {
        "method": "reply",
        "params": {"gpio": 7, "state": "on"},
    }


@pytest.mark.parametrize("case", ["unknown", "counter", "negative", "queued", "oneway", "answered"])
def test_replies_to_unknown_stale_or_answered_ids_are_200_and_write_nothing(
    stack: Stack, device: Device, case: str
) -> None:
    send(stack, device)  # id 1: delivered and answered below
    send(stack, device, oneway=True, persistent=False)  # id 2: one-way
    polled(stack, device)
    reply(stack, device, "1", '{"first": true}')
    polled(stack, device)  # id 2 delivered
    send(stack, device)  # id 3: queued, never delivered
    rpc_id = {"unknown": "99", "counter": "0", "negative": "-5", "queued": "3", "oneway": "2"}.get(case, "1")
    before = rpc_items(stack)

    response = reply(stack, device, rpc_id, '{"late": true}')

    assert (response["statusCode"], response["body"]) == (200, "")
    assert rpc_items(stack) == before


def test_a_reply_for_another_devices_rpc_id_changes_nothing(stack: Stack, device: Device) -> None:
    other = create_device(stack, "other-device")
    send(stack, device)
    polled(stack, device)
    before = rpc_items(stack)

    response = reply(stack, other, "1", '{"hijack": true}')

    assert response["statusCode"] == 200
    assert rpc_items(stack) == before


@pytest.mark.parametrize("rpc_id", ["abc", "1.5", "1e3", "2147483648", "99999999999", " 1", "0x10"])
def test_a_non_integer_rpc_id_is_400_and_writes_nothing(stack: Stack, device: Device, rpc_id: str) -> None:
    send(stack, device)
    polled(stack, device)
    before = rpc_items(stack)

    response = reply(stack, device, rpc_id, '{"ok": true}')

    assert response["statusCode"] == 400
    assert "integer" in response["body"]
    assert rpc_items(stack) == before


def test_an_empty_reply_is_400_and_writes_nothing(stack: Stack, device: Device) -> None:
    send(stack, device)
    polled(stack, device)
    before = rpc_items(stack)

    response = reply(stack, device, "1", None)

    assert response["statusCode"] == 400
    assert rpc_items(stack) == before


def test_replies_over_64_kib_are_413_and_64_kib_is_accepted(stack: Stack, device: Device) -> None:
    sent = send(stack, device)
    polled(stack, device)
    before = rpc_items(stack)
    text = '"' + "x" * (65536 - 2) + '"'

    too_large = reply(stack, device, "1", text + " ")
    assert (too_large["statusCode"], too_large["body"]) == (413, LIMIT_MESSAGE)
    assert rpc_items(stack) == before

    assert reply(stack, device, "1", text)["statusCode"] == 200
    assert len(status(stack, device, sent["rpcId"])["response"]) == 65534


def test_unknown_tokens_are_401_on_every_rpc_route(stack: Stack, device: Device) -> None:
    send(stack, device)
    stranger = Device(device.id, "wrong-token")
    before = rpc_items(stack)

    responses = [
        poll(stack, stranger),
        reply(stack, stranger, "1", "{}"),
        client_rpc(stack, stranger, '{"method": "getCurrentTime"}'),
    ]

    assert [(r["statusCode"], r["body"]) for r in responses] == [(401, "")] * 3
    assert rpc_items(stack) == before


# --------------------------------------------------------------------------- concurrency
def test_concurrent_polls_take_each_one_way_rpc_exactly_once(stack: Stack, device: Device) -> None:
    poll(stack, device)
    count, pollers = 20, 6
    for i in range(count):
        rpc_service.send(
            devices.get(device.id), rpc_request(method=f"m{i}", oneway=True, now=rpc_service.now_ms())
        )

    def drain(_: int) -> list[int]:
        taken = []
        while (command := rpc_service.next_for_device(device.id)) is not None:
            taken.append(command["id"])
        return taken

    with ThreadPoolExecutor(max_workers=pollers) as pool:
        per_poller = list(pool.map(drain, range(pollers)))

    taken = [i for ids in per_poller for i in ids]
    assert sorted(taken) == list(range(1, count + 1))  # none lost, none twice
    assert all(ids == sorted(ids) for ids in per_poller)  # each poller sees them in id order


def test_two_polls_racing_for_one_one_way_rpc_deliver_it_once(stack: Stack, device: Device) -> None:
    poll(stack, device)
    for _ in range(10):
        rpc_service.send(
            devices.get(device.id), rpc_request(method="once", oneway=True, now=rpc_service.now_ms())
        )
        barrier = threading.Barrier(2)

        def racer(_: int, barrier: threading.Barrier = barrier) -> dict[str, Any] | None:
            barrier.wait()
            return rpc_service.next_for_device(device.id)

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(racer, range(2)))

        assert sum(r is not None for r in results) == 1


def test_concurrent_sends_polls_and_replies_on_several_devices_lose_nothing(stack: Stack) -> None:
    fleet = [create_device(stack, f"fleet-{i}") for i in range(4)]
    per_device = 5
    poll(stack, fleet[0])
    records = {d.id: devices.get(d.id) for d in fleet}

    def operator(device: Device) -> list[str]:
        return [
            rpc_service.send(
                records[device.id], rpc_request(method="twoWay", params={"n": n}, now=rpc_service.now_ms())
            ).rpc_id
            for n in range(per_device)
        ]

    def firmware(device: Device) -> int:
        answered, deadline = 0, time.monotonic() + 20
        while answered < per_device and time.monotonic() < deadline:
            command = rpc_service.next_for_device(device.id)
            if command is None:
                time.sleep(0.01)
                continue
            if rpc_service.reply(device.id, command["id"], json.dumps({"echo": command["params"]["n"]})):
                answered += 1
        return answered

    with ThreadPoolExecutor(max_workers=2 * len(fleet)) as pool:
        sent = [pool.submit(operator, d) for d in fleet]
        devices_answered = [pool.submit(firmware, d) for d in fleet]
        rpc_ids = [f.result() for f in sent]
        assert [f.result() for f in devices_answered] == [per_device] * len(fleet)

    for device, ids in zip(fleet, rpc_ids, strict=True):
        finished = [rpc_service.get(device.id, rpc_id) for rpc_id in ids]
        assert [(r.status, r.response) for r in finished] == [
            ("SUCCESSFUL", {"echo": n}) for n in range(per_device)
        ]


# --------------------------------------------------------------------------- client-side RPC
def test_get_current_time_is_built_in(stack: Stack, device: Device) -> None:
    before = int(time.time() * 1000)

    response = stack.invoke(CLIENT, event("thingsboard/post_client_rpc", token=device.token))

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert before <= json.loads(response["body"])["time"] <= int(time.time() * 1000)


def test_documented_unquoted_body_is_accepted(stack: Stack, device: Device) -> None:
    """ThingsBoard's curl examples reach the server with their quotes stripped by the shell."""
    response = client_rpc(stack, device, "{method: getCurrentTime, params: {}}")

    assert response["statusCode"] == 200
    assert "time" in json.loads(response["body"])


def test_unknown_method_without_a_handler_is_a_json_404_at_once(stack: Stack, device: Device) -> None:
    started = time.monotonic()

    response = client_rpc(stack, device, '{"method": "getWeather", "params": {"city": "Oslo"}}')

    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"error": "Unknown RPC method 'getWeather'"}
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "[]",
        '"getCurrentTime"',
        "{}",
        '{"params": {}}',
        '{"method": 1}',
        '{"method": 1.5}',
        '{"method": ""}',
        '{"method": null}',
        '{"method": ["getCurrentTime"]}',
        json.dumps({"method": "m" * 256}),
        '{"method": "getCurrentTime",',
    ],
)
def test_bad_client_rpc_bodies_are_400(stack: Stack, device: Device, body: str | None) -> None:
    response = client_rpc(stack, device, body)

    assert response["statusCode"] == 400
    assert response["body"]
    assert rpc_items(stack) == []


def test_client_rpc_bodies_over_64_kib_are_413(stack: Stack, device: Device) -> None:
    head = '{"method": "getCurrentTime", "params": "'
    body = head + "x" * (65536 - len(head) - 2) + '"}'

    assert client_rpc(stack, device, body)["statusCode"] == 200
    too_large = client_rpc(stack, device, body + " ")
    assert (too_large["statusCode"], too_large["body"]) == (413, LIMIT_MESSAGE)


# --------------------------------------------------------------------------- the deployer's handler
HANDLER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:fleet-rpc-handler"


@dataclass
class FakeLambda:
    """A loopback Lambda ``Invoke`` endpoint: records each call and answers as ``behaviour`` says."""

    url: str
    behaviour: str = "answer"
    calls: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def fake_lambda(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLambda]:
    fake = FakeLambda(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            fake.calls.append(
                {
                    "path": unquote(self.path),
                    "invocationType": self.headers.get("X-Amz-Invocation-Type"),
                    "payload": json.loads(body),
                }
            )
            status, headers, answer = 200, {}, b""
            if fake.behaviour == "answer":
                payload = fake.calls[-1]["payload"]
                answer = json.dumps({"echo": payload["params"], "by": payload["deviceName"]}).encode()
            elif fake.behaviour == "function-error":
                headers = {"X-Amz-Function-Error": "Unhandled"}
                answer = b'{"errorMessage": "boom", "errorType": "RuntimeError"}'
            elif fake.behaviour == "not-json":
                answer = b"<html>oops</html>"
            elif fake.behaviour == "slow":
                time.sleep(2.5)
                answer = b"{}"
            elif fake.behaviour == "missing":
                status = 404
                headers = {"x-amzn-ErrorType": "ResourceNotFoundException"}
                answer = b'{"Type": "User", "Message": "Function not found"}'
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the slow answer is written after the client gave up: expected

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", fake.url)
    reset_caches()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def with_handler(stack: Stack, device: Device, fake_lambda: FakeLambda) -> Stack:
    """The stack with ``ClientRpcHandlerFunctionArn`` set and a 1-second handler timeout."""
    template = Template.load(
        ROOT / "template.yaml",
        {"ClientRpcHandlerFunctionArn": HANDLER_ARN, "ClientRpcTimeoutSeconds": "1"},
    )
    return Stack(template, stack.provisioned, InProcessFunctions(template, stack.provisioned))


def test_other_methods_go_to_the_handler_and_its_json_is_the_answer(
    with_handler: Stack, device: Device, fake_lambda: FakeLambda
) -> None:
    response = client_rpc(with_handler, device, '{"method": "getWeather", "params": {"city": "Oslo"}}')

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"echo": {"city": "Oslo"}, "by": "thermostat-1"}
    (call,) = fake_lambda.calls
    assert call["path"] == f"/2015-03-31/functions/{HANDLER_ARN}/invocations"
    assert call["invocationType"] == "RequestResponse"
    assert call["payload"] == {
        "deviceId": device.id,
        "deviceName": "thermostat-1",
        "deviceType": "default",
        "method": "getWeather",
        "params": {"city": "Oslo"},
    }


def test_built_in_methods_do_not_reach_the_handler(
    with_handler: Stack, device: Device, fake_lambda: FakeLambda
) -> None:
    response = client_rpc(with_handler, device, '{"method": "getCurrentTime", "params": {}}')

    assert response["statusCode"] == 200
    assert fake_lambda.calls == []


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("function-error", "The RPC handler failed"),
        ("not-json", "The RPC handler returned invalid JSON"),
        ("missing", "The RPC handler could not be invoked"),
    ],
)
def test_a_failing_handler_is_a_json_502(
    with_handler: Stack, device: Device, fake_lambda: FakeLambda, behaviour: str, error: str
) -> None:
    fake_lambda.behaviour = behaviour

    response = client_rpc(with_handler, device, '{"method": "getWeather"}')

    assert response["statusCode"] == 502
    assert json.loads(response["body"]) == {"error": error}


def test_a_slow_handler_is_a_json_504_timeout_after_the_bound_and_is_not_retried(
    with_handler: Stack, device: Device, fake_lambda: FakeLambda
) -> None:
    fake_lambda.behaviour = "slow"
    started = time.monotonic()

    response = client_rpc(with_handler, device, '{"method": "getWeather"}')

    assert response["statusCode"] == 504
    assert json.loads(response["body"]) == {"error": "timeout"}
    assert 0.9 <= time.monotonic() - started < 2.4
    assert len(fake_lambda.calls) == 1


@pytest.mark.parametrize("arn", ["", HANDLER_ARN])
def test_the_client_rpc_function_may_invoke_the_configured_handler_only(arn: str) -> None:
    template = Template.load(ROOT / "template.yaml", {"ClientRpcHandlerFunctionArn": arn})
    policies = template.resources()[CLIENT]["Properties"]["Policies"]

    resolved = template.resolve(policies, {"DevicesTable": "devices"}, {})

    invoke = [s for p in resolved for s in p.get("Statement", []) if "lambda:InvokeFunction" in str(s)]
    assert invoke == ([] if not arn else [{**invoke[0], "Resource": HANDLER_ARN}])
    assert all(s["Action"] == "lambda:InvokeFunction" for s in invoke)
