"""A ThingsPro gateway managed from the cloud, end to end on the local stack: the simulated gateway
(``tools.thingspro_gateway``) connects over real MQTT (Mosquitto behind the template's authorizer) with
the MQTT client body registration gave, and the ThingsPro Cloud API and the operator API are called
over HTTP as a script would call them.

- Changes made while the gateway is offline are applied once, in order, when it connects (IoT Core's
  lifecycle event, as the local broker publishes it); one past its expiry is never applied; the operator
  sees each outcome.
- Online, a change is answered with the gateway's own status and payload; a read right after it is
  answered from what the gateway confirmed.
- A message group's default-format publications become telemetry series the operator API reads.
- A secret sent in a configuration is in no answer and no stored item.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fleetgate_local.stack import LocalStack
from tests.e2e.conftest import HTTP_TIMEOUT_S, OperatorSession
from tests.e2e.test_mqtt_e2e import wait_for
from tools.thingspro_gateway.client import run
from tools.thingspro_gateway.gateway import Gateway

pytestmark = pytest.mark.e2e

SECRET = "gateway-broker-pass-5e1f"


class Api:
    """A gateway's ThingsPro Cloud API with a ThingsPro token, as a script for the gateway calls it."""

    def __init__(self, stack: LocalStack, gateway_id: str) -> None:
        self.base = f"{stack.url}/thingspro/gateways/{gateway_id}/api/v1"
        login = requests.post(
            f"{self.base}/auth",
            json={"name": stack.admin_name, "password": stack.admin_password, "acceptEULA": True},
            timeout=HTTP_TIMEOUT_S,
        )
        assert login.status_code == 200, login.text
        self.token = login.json()["data"]["token"]

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
        return requests.request(
            method,
            self.base + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token}", **headers},
            timeout=HTTP_TIMEOUT_S + 5,
        )


class Running:
    """The simulated gateway connected to the stack, in a thread."""

    def __init__(self, config: dict[str, Any], gateway: Gateway, publish_every: float = 0) -> None:
        self.stop = threading.Event()
        self.lines: list[str] = []
        self.thread = threading.Thread(
            target=run,
            args=(config, self.stop),
            kwargs={"gateway": gateway, "publish_every": publish_every, "log": self.lines.append},
            daemon=True,
        )

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


@pytest.fixture
def registered(operator: OperatorSession) -> dict[str, Any]:
    response = operator.post(
        f"{operator.base_url}/manage/v1/thingspro/gateways", json={}, timeout=HTTP_TIMEOUT_S
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    assert data["mqttConfiguration"]["password"] == data["accessKey"]
    return data


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    yield Gateway()


def requests_of(operator: OperatorSession, gateway_id: str) -> dict[str, dict[str, Any]]:
    url = f"{operator.base_url}/manage/v1/thingspro/gateways/{gateway_id}/requests?limit=100"
    return {r["requestId"]: r for r in operator.get(url, timeout=HTTP_TIMEOUT_S).json()["data"]}


def test_changes_made_offline_are_applied_once_in_order_when_it_connects_and_an_expired_one_never(
    stack: LocalStack, operator: OperatorSession, registered: dict[str, Any], gateway: Gateway
) -> None:
    gw = registered["id"]
    api = Api(stack, gw)
    first = api.call("PUT", "/mqtt/1/store-and-forward", {"enable": True, "timeToLiveSec": 7200})
    stale = api.call(
        "PUT", "/mqtt/1/store-and-forward", {"enable": False}, **{"X-Fleetgate-Expires-In": "10"}
    )
    ssh = operator.post(
        f"{operator.base_url}/manage/v1/thingspro/gateways/{gw}/requests",
        json={"method": "PUT", "path": "/system/sshserver", "requestBody": {"enable": True, "port": 2222}},
        timeout=HTTP_TIMEOUT_S,
    )
    assert (first.status_code, stale.status_code, ssh.status_code) == (202, 202, 202), (first.text, ssh.text)
    time.sleep(11)  # the second change expires while the gateway is away
    last = api.call("PUT", "/mqtt/1/store-and-forward", {"timeToLiveSec": 600})
    assert last.status_code == 202
    ids = [
        first.json()["data"]["requestId"],
        stale.json()["data"]["requestId"],
        ssh.json()["data"]["requestId"],
    ]
    ids.append(last.json()["data"]["requestId"])
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)

    with Running(registered["mqttConfiguration"], gateway):
        done = wait_for(
            lambda: (
                (found := requests_of(operator, gw))
                and all(found[i]["state"] in ("succeeded", "failed", "expired") for i in ids)
                and found
            )
        )

    applied = [(request_id, method, path) for request_id, method, path in gateway.applied]
    assert applied == [(ids[0], "PUT", "/mqtt/1/store-and-forward"), (ids[2], "PUT", "/system/sshserver"),
                       (ids[3], "PUT", "/mqtt/1/store-and-forward")]  # fmt: skip
    assert [done[i]["state"] for i in ids] == ["succeeded", "expired", "succeeded", "succeeded"]
    assert done[ids[0]]["answer"]["state"] == 200
    assert gateway.state["mqtt"]["storeAndForward"]["1"]["enable"] is True  # the expired false never came
    assert gateway.state["mqtt"]["storeAndForward"]["1"]["timeToLiveSec"] == 600
    # the confirmed read, while the gateway is away again
    read = api.call("GET", "/mqtt/1/store-and-forward")
    assert read.status_code == 200 and read.json()["data"]["timeToLiveSec"] == 600


def connected(operator: OperatorSession, gateway_id: str) -> bool:
    url = f"{operator.base_url}/manage/v1/thingspro/gateways/{gateway_id}"
    presence = operator.get(url, timeout=HTTP_TIMEOUT_S).json()["data"]["presence"]
    return bool(presence and presence["connected"])


def test_online_a_change_is_answered_by_the_gateway_and_a_secret_stays_out_of_answers_and_store(
    stack: LocalStack, operator: OperatorSession, registered: dict[str, Any], gateway: Gateway
) -> None:
    gw = registered["id"]
    api = Api(stack, gw)
    with Running(registered["mqttConfiguration"], gateway):
        wait_for(lambda: connected(operator, gw))
        changed = api.call("PUT", "/aws/store-and-forward", {"enable": True, "dropBehavior": "newest"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["data"]["dropBehavior"] == "newest"
        created = api.call(
            "POST", "/mqtt", {"server": "broker.example.com", "port": 8883, "password": SECRET}
        )
        assert created.status_code == 200, created.text
        listed = api.call("GET", "/mqtt")
    assert SECRET not in created.text and SECRET not in listed.text
    assert any(c.get("password") == SECRET for c in gateway.state["mqtt"]["clients"])  # the gateway has it
    ddb = stack.client("dynamodb")
    stored = json.dumps([ddb.scan(TableName=t)["Items"] for t in ddb.list_tables()["TableNames"]])
    assert SECRET not in stored
    assert registered["accessKey"] not in stored


def test_a_message_groups_default_format_becomes_telemetry_series(
    stack: LocalStack, operator: OperatorSession, registered: dict[str, Any], gateway: Gateway
) -> None:
    gw = registered["id"]
    topic = f"thingspro/{gw}/messages/plant-1"
    group = {"enable": True, "outputTopic": topic, "tags": {"system": {"system": ["cpuUsage"]}},
             "sendOutThreshold": {"mode": "immediately"}}  # fmt: skip
    with Running(registered["mqttConfiguration"], gateway, publish_every=0.5):
        wait_for(lambda: connected(operator, gw))
        made = Api(stack, gw).call("POST", "/mqtt/1/messages", group)
        assert made.status_code == 200, made.text

        def latest() -> dict[str, Any]:
            url = f"{operator.base_url}/manage/v1/devices/{gw}/telemetry/latest"
            return dict(operator.get(url, timeout=HTTP_TIMEOUT_S).json().get("data") or {})

        values = wait_for(latest)
    assert any(key.endswith("/system/cpuUsage") for key in values), values
