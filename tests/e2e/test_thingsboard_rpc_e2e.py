"""ThingsBoard RPC over real HTTP against a local stack: ThingsBoard's Python SDK unmodified
(``subscribe('rpc')`` with replies, ``send_rpc``), the RPC curl lines of ThingsBoard's docs, and polls,
replies and operator sends running in parallel.

The session's stack keeps the template's 25-second long-poll cap, and the SDK always asks for 30 s:
the tests queue an RPC before the SDK polls or send one while it waits (the wake-up queue answers the
poll at once), and never wait for an SDK thread to end (``unsubscribe`` takes effect after its current
poll returns)."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from tb_device_http import TBHTTPDevice

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_S = 30


@pytest.fixture
def device(operator: requests.Session) -> dict[str, str]:
    """A fresh device registered through the operator API: {"id", "token"}."""
    response = operator.post(
        f"{operator.base_url}/manage/v1/devices", json={"name": f"rpc-{uuid.uuid4().hex[:12]}"}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return {"id": data["id"], "token": data["credentials"]["accessToken"]}


def send(operator: requests.Session, device_id: str, **body: Any) -> requests.Response:
    return operator.post(
        f"{operator.base_url}/manage/v1/devices/{device_id}/rpc", json=body, timeout=HTTP_TIMEOUT_S
    )


def queue(operator: requests.Session, device_id: str, **body: Any) -> dict[str, Any]:
    response = send(
        operator, device_id, **({"method": "setGpio", "persistent": True, "timeout": 60_000} | body)
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def rpc_state(operator: requests.Session, device_id: str, rpc_uuid: str) -> dict[str, Any]:
    response = operator.get(f"{operator.base_url}/manage/v1/devices/{device_id}/rpc/{rpc_uuid}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def eventually(check: Callable[[], Any], seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def device_poll(stack: Any, token: str, timeout_ms: int = 1000) -> requests.Response:
    return requests.get(
        f"{stack.url}/api/v1/{token}/rpc", params={"timeout": timeout_ms}, timeout=HTTP_TIMEOUT_S
    )


# --------------------------------------------------------------------------- ThingsBoard's SDK
def test_sdk_subscriber_gets_a_queued_rpc_and_its_reply_reaches_the_operator(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    sent = queue(operator, device["id"], method="setGpio", params={"pin": 23, "value": 1})
    sdk = TBHTTPDevice(stack.url, device["token"])
    received: list[dict[str, Any]] = []

    def on_rpc(request: dict[str, Any]) -> None:
        received.append(request)
        sdk.send_rpc("reply", {"pin": request["params"]["pin"], "state": "on"}, rpc_id=request["id"])

    sdk.subscribe("rpc", on_rpc)
    try:
        final = eventually(
            lambda: (s := rpc_state(operator, device["id"], sent["rpcId"]))["status"] == "SUCCESSFUL" and s
        )
    finally:
        sdk.unsubscribe("rpc")

    assert received == [{"id": 1, "method": "setGpio", "params": {"pin": 23, "value": 1}}]
    assert final["response"] == {"method": "reply", "params": {"pin": 23, "state": "on"}}


def test_operator_two_way_call_returns_the_sdk_subscribers_reply(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    sdk = TBHTTPDevice(stack.url, device["token"])
    sdk.subscribe(
        "rpc", lambda request: sdk.send_rpc("reply", {"echo": request["params"]}, rpc_id=request["id"])
    )
    try:
        response = send(
            operator, device["id"], method="getValue", params={"key": "temperature"}, timeout=20_000
        )
    finally:
        sdk.unsubscribe("rpc")

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "SUCCESSFUL"
    assert data["response"] == {"method": "reply", "params": {"echo": {"key": "temperature"}}}


def test_sdk_send_rpc_gets_the_built_in_current_time(stack: Any, device: dict[str, str]) -> None:
    sdk = TBHTTPDevice(stack.url, device["token"])
    before = int(time.time() * 1000)

    answer = sdk.send_rpc("getCurrentTime")

    assert before <= answer["time"] <= int(time.time() * 1000)


def test_sdk_send_rpc_of_an_unknown_method_fails_at_once_with_a_json_error(
    stack: Any, device: dict[str, str]
) -> None:
    sdk = TBHTTPDevice(stack.url, device["token"])
    started = time.monotonic()

    with pytest.raises(requests.HTTPError) as failure:
        sdk.send_rpc("getWeather", {"city": "Oslo"})

    assert failure.value.response.status_code == 404
    assert failure.value.response.json() == {"error": "Unknown RPC method 'getWeather'"}
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------- queueing and expiry
def test_an_rpc_sent_while_the_device_was_not_polling_is_delivered_on_its_next_poll(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    sent = queue(operator, device["id"], method="blink", oneway=True, persistent=False)
    time.sleep(0.5)  # ThingsBoard would have handed a one-way RPC to a dead session by now

    response = device_poll(stack, device["token"])

    assert response.status_code == 200
    assert response.json() == {"id": 1, "method": "blink", "params": {}}
    assert rpc_state(operator, device["id"], sent["rpcId"])["status"] == "SUCCESSFUL"


def test_an_expired_rpc_is_never_delivered(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    sent = queue(operator, device["id"], method="tooLate", expirationTime=int(time.time() * 1000) + 500)
    time.sleep(0.8)

    response = device_poll(stack, device["token"])

    assert (response.status_code, response.content) == (408, b"")
    assert rpc_state(operator, device["id"], sent["rpcId"])["status"] == "EXPIRED"


def test_replies_over_64_kib_are_413_over_http(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    queue(operator, device["id"])
    assert device_poll(stack, device["token"]).status_code == 200

    response = requests.post(
        f"{stack.url}/api/v1/{device['token']}/rpc/1", data=b"x" * 65_537, timeout=HTTP_TIMEOUT_S
    )

    assert response.status_code == 413
    assert response.json() == "Payload size exceeds the limit of 65536 bytes"


# --------------------------------------------------------------------------- the documentation's curl lines
SEED_SERVER_RPC = {
    "subscribe": "curl -v -X GET http://$THINGSBOARD_EDGE_HOST_NAME/api/v1/$ACCESS_TOKEN/rpc?timeout=20000",
    "reply": "curl -v -X POST -d @rpc-response.json "
    "http://$THINGSBOARD_EDGE_HOST_NAME/api/v1/$ACCESS_TOKEN/rpc/1 "
    '--header "Content-Type:application/json"',
    "client": "curl -X POST -d @rpc-client-request.json "
    "http://$THINGSBOARD_EDGE_HOST_NAME/api/v1/$ACCESS_TOKEN/rpc "
    '--header "Content-Type:application/json"',
}


def shell(command: str, cwd: Path, stack: Any, token: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "THINGSBOARD_EDGE_HOST_NAME": stack.url.split("//", 1)[1],
        "ACCESS_TOKEN": token,
    }
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_seed_rpc_curl_lines_work_as_printed(
    stack: Any, operator: requests.Session, device: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "rpc-response.json").write_text('{"result":"ok"}')
    (tmp_path / "rpc-client-request.json").write_text('{"method": "getCurrentTime", "params": {}}')
    sent = queue(operator, device["id"], method="connect", params={})

    subscribed = shell(SEED_SERVER_RPC["subscribe"], tmp_path, stack, device["token"])
    replied = shell(SEED_SERVER_RPC["reply"], tmp_path, stack, device["token"])
    client = shell(SEED_SERVER_RPC["client"], tmp_path, stack, device["token"])

    assert json.loads(subscribed.stdout) == {"id": 1, "method": "connect", "params": {}}
    assert re.search(r"^< HTTP/1\.[01] 200", replied.stderr, re.MULTILINE), replied.stderr
    assert rpc_state(operator, device["id"], sent["rpcId"])["response"] == {"result": "ok"}
    assert "time" in json.loads(client.stdout)


# --------------------------------------------------------------------------- in parallel
def test_parallel_polls_and_operator_sends_on_several_devices_lose_nothing(
    stack: Any, operator: requests.Session
) -> None:
    fleet = [
        operator.post(
            f"{operator.base_url}/manage/v1/devices", json={"name": f"par-{uuid.uuid4().hex[:10]}"}
        ).json()["data"]
        for _ in range(4)
    ]
    per_device = 3

    def firmware(record: dict[str, Any]) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + 40
        while len(received) < per_device and time.monotonic() < deadline:
            response = device_poll(stack, record["credentials"]["accessToken"], 5000)
            if response.status_code == 200:
                received.append(response.json())
            else:
                assert response.status_code == 408, response.text
        return received

    def operator_sends(record: dict[str, Any]) -> None:
        for n in range(per_device):
            response = send(operator, record["id"], method="set", params={"n": n}, oneway=True)
            assert response.status_code == 200, response.text

    with ThreadPoolExecutor(max_workers=2 * len(fleet)) as pool:
        polls = [pool.submit(firmware, record) for record in fleet]
        time.sleep(0.5)
        sends = [pool.submit(operator_sends, record) for record in fleet]
        for future in sends:
            future.result()
        results = [future.result() for future in polls]

    for received in results:
        assert received == [{"id": n + 1, "method": "set", "params": {"n": n}} for n in range(per_device)]


def test_two_concurrent_polls_take_a_one_way_rpc_exactly_once(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    barrier = threading.Barrier(3)

    def waiting_poll(_: int) -> requests.Response:
        barrier.wait()
        return device_poll(stack, device["token"], 4000)

    with ThreadPoolExecutor(max_workers=2) as pool:
        polls = [pool.submit(waiting_poll, i) for i in range(2)]
        barrier.wait()
        time.sleep(1)
        queue(operator, device["id"], method="once", oneway=True, persistent=False)
        responses = [p.result() for p in polls]

    assert sorted(r.status_code for r in responses) == [200, 408]
    (delivered,) = [r.json() for r in responses if r.status_code == 200]
    assert delivered == {"id": 1, "method": "once", "params": {}}
