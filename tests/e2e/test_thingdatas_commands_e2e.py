"""ThingDatas commands over real HTTP against the local stack (moto in server mode, the template's
functions in worker processes): an operator sends a command, the ``iot-data`` Publish reaches moto's IoT
data plane on the request topic with Fleets' payload, and the device answers with a request shaped
exactly like the seed's ``command/response`` curl line (its ``-d`` body, with the thing's name and the
real executionId put in).

moto's server runs inside the test process, so what it recorded is read from its backend directly."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
import requests
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iotdata.models import iotdata_backends

from tests.e2e.conftest import OperatorSession

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_S = 30
SEED_EXECUTION_ID = "8d88790c-9171-4526-8637-e6d6168bce22"
SEED_BODY = """{
"thingName": "thermostat-001",
"executionId": "8d88790c-9171-4526-8637-e6d6168bce22",
"status": "SUCCEEDED",
"result": { "currentTemperature": 24 },
"timestamp": 1748390405
}"""  # the seed's curl -d, verbatim


@pytest.fixture
def thing(operator: OperatorSession) -> dict[str, str]:
    """A fresh thing and a device API key for it, both made through the operator API."""
    name = f"thermostat-{uuid.uuid4().hex[:10]}"
    created = operator.post(
        f"{operator.base_url}/manage/v1/devices", json={"name": name}, timeout=HTTP_TIMEOUT_S
    )
    assert created.status_code == 201, created.text
    key = operator.post(
        f"{operator.base_url}/manage/v1/api-keys",
        json={
            "name": "commands e2e",
            "permissions": [{"method": "POST", "path": "/api/v1/thing-datas"}],
            "thingNames": [name],
        },
        timeout=HTTP_TIMEOUT_S,
    )
    assert key.status_code == 201, key.text
    data = key.json()["data"]
    auth = "Basic " + base64.b64encode(f"{data['id']}:{data['secret']}".encode()).decode()
    return {"id": created.json()["data"]["id"], "name": name, "auth": auth}


def published(region: str) -> list[tuple[str, bytes]]:
    return list(iotdata_backends[DEFAULT_ACCOUNT_ID][region].published_payloads)


def answer(stack: Any, thing: dict[str, str], execution_id: str) -> requests.Response:
    """``curl -X POST …/command/response -H "Content-Type: application/json" -H "Authorization: $AUTH"
    -d '<seed body>'`` as requests sends it."""
    body = SEED_BODY.replace("thermostat-001", thing["name"]).replace(SEED_EXECUTION_ID, execution_id)
    return requests.post(
        f"{stack.url}/api/v1/thing-datas/command/response",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": thing["auth"]},
        timeout=HTTP_TIMEOUT_S,
    )


def test_a_command_is_published_to_moto_and_the_seed_shaped_answer_completes_it(
    stack: Any, operator: OperatorSession, thing: dict[str, str]
) -> None:
    before = len(published(stack.region))

    sent = operator.post(
        f"{operator.base_url}/manage/v1/devices/{thing['id']}/commands",
        json={"action": "setTemperature", "params": {"value": 24}, "ttl": 30},
        timeout=HTTP_TIMEOUT_S,
    )

    assert sent.status_code == 201, sent.text
    execution = sent.json()["data"]
    execution_id = execution["executionId"]
    assert execution["status"] == "SENT"
    [(topic, payload)] = published(stack.region)[before:]
    assert topic == f"fleetgate/commands/things/{thing['name']}/executions/{execution_id}/request"
    request = json.loads(payload)
    assert request == {
        "commandId": execution_id,
        "executionId": execution_id,
        "action": "setTemperature",
        "params": {"value": 24},
        "timestamp": request["timestamp"],
        "ttl": 30,
    }
    assert abs(request["timestamp"] - time.time()) < 60  # seconds

    first = answer(stack, thing, execution_id)
    again = answer(stack, thing, execution_id)  # a retry of the same answer

    assert first.status_code == 200, first.text
    assert first.json() == {"thingName": thing["name"], "executionId": execution_id, "status": "SUCCEEDED"}
    assert (again.status_code, again.json()) == (200, first.json())
    read = operator.get(
        f"{operator.base_url}/manage/v1/devices/{thing['id']}/commands/{execution_id}", timeout=HTTP_TIMEOUT_S
    )
    assert read.status_code == 200, read.text
    data = read.json()["data"]
    assert data["status"] == "SUCCEEDED"
    assert data["result"] == {"currentTemperature": 24}
    assert data["deviceTimestamp"] == 1748390405


def test_a_canceled_command_refuses_the_devices_answer(
    stack: Any, operator: OperatorSession, thing: dict[str, str]
) -> None:
    base = f"{operator.base_url}/manage/v1/devices/{thing['id']}/commands"
    execution_id = operator.post(base, json={"action": "reboot"}, timeout=HTTP_TIMEOUT_S).json()["data"][
        "executionId"
    ]
    canceled = operator.post(f"{base}/{execution_id}/cancel", timeout=HTTP_TIMEOUT_S)
    assert canceled.status_code == 200, canceled.text

    refused = answer(stack, thing, execution_id)

    assert refused.status_code == 409
    assert refused.json()["code"] == "InvalidStateTransition"
    assert refused.json()["status"] == "CANCELED"
