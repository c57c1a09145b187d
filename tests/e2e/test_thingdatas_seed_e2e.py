"""EMQX Fleets ThingDatas devices over real HTTP against a local stack: the curl lines of Fleets'
"HTTPS Integration" page exactly as printed, with only the host and the API key replaced,
run by a shell — `AUTH="Basic $(printf … | base64)"` included — with a key made through the operator API."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e

THING = "thermostat-001"
SEED_EXECUTION_ID = "8d88790c-9171-4526-8637-e6d6168bce22"
AUTH_LINE = "AUTH=\"Basic $(printf '%s:%s' 'ak_yourApiKey' 'your-api-secret' | base64)\""

REPORT = """curl -X POST https://{fleets-host}/api/v1/thing-datas/shadow/reported \\
-H "Content-Type: application/json" \\
-H "Authorization: $AUTH" \\
-d '{
"thingName": "thermostat-001",
"state": {
"reported": {
"temperature": 21.5,
"humidity": 58
}
},
"clientToken": "tok-001",
"version": 0
}'"""

READ = """curl https://{fleets-host}/api/v1/thing-datas/thermostat-001/shadow \\
-H "Authorization: $AUTH\""""

EVENT = """curl -X POST https://{fleets-host}/api/v1/thing-datas/events \\
-H "Content-Type: application/json" \\
-H "Authorization: $AUTH" \\
-d '{
"thingName": "thermostat-001",
"eventType": "highTemperature",
"severity": "warn",
"timestamp": 1748390400000,
"data": { "currentTemp": 45.2 }
}'"""

COMMAND_RESPONSE = """curl -X POST https://{fleets-host}/api/v1/thing-datas/command/response \\
-H "Content-Type: application/json" \\
-H "Authorization: $AUTH" \\
-d '{
"thingName": "thermostat-001",
"executionId": "8d88790c-9171-4526-8637-e6d6168bce22",
"status": "SUCCEEDED",
"result": { "currentTemperature": 24 },
"timestamp": 1748390405
}'"""

JOBS_GET = """curl -X POST https://{fleets-host}/api/v1/thing-datas/jobs/get \\
-H "Content-Type: application/json" \\
-H "Authorization: $AUTH" \\
-d '{"thingName": "thermostat-001", "clientToken": "req-1"}'"""

JOB_UPDATE = """curl -X POST https://{fleets-host}/api/v1/thing-datas/jobs/{jobId}/update \\
-H "Content-Type: application/json" \\
-H "Authorization: $AUTH" \\
-d '{
"thingName": "thermostat-001",
"status": "SUCCEEDED",
"statusDetails": { "installedVersion": "2.0.0" },
"expectedVersion": 1,
"clientToken": "req-3"
}'"""


class Seed:
    """Runs the seed's lines against the stack with a real key."""

    def __init__(self, base_url: str, key_id: str, secret: str) -> None:
        self.base_url = base_url
        self.auth_line = AUTH_LINE.replace("ak_yourApiKey", key_id).replace("your-api-secret", secret)

    def run(self, curl: str, **replace: str) -> tuple[int, Any]:
        command = curl.replace("https://{fleets-host}", self.base_url)
        for old, new in replace.items():
            command = command.replace(old, new)
        script = f"{self.auth_line}\n{command} -sS -w '\\n%{{http_code}}'"
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        body, _, status = done.stdout.rpartition("\n")
        return int(status), json.loads(body) if body.strip() else None


@pytest.fixture(scope="module")
def thing(stack: Any, operator_token: str) -> dict[str, str]:
    """The seed's thing ``thermostat-001`` (registered once for the session) and a device key for it."""
    headers = {"Authorization": f"Bearer {operator_token}"}
    created = requests.post(
        f"{stack.url}/manage/v1/devices", json={"name": THING}, headers=headers, timeout=30
    )
    if created.status_code == 409:  # another module of the session registered it
        listed = requests.get(f"{stack.url}/manage/v1/devices?limit=100", headers=headers, timeout=30).json()
        device_id = next(d["id"] for d in listed["data"] if d["name"] == THING)
    else:
        assert created.status_code == 201, created.text
        device_id = created.json()["data"]["id"]
    key = requests.post(
        f"{stack.url}/manage/v1/api-keys",
        json={
            "name": "seed device key",
            "permissions": [
                {"method": "POST", "path": "/api/v1/thing-datas"},
                {"method": "GET", "path": "/api/v1/thing-datas"},
            ],
        },
        headers=headers,
        timeout=30,
    )
    assert key.status_code == 201, key.text
    data = key.json()["data"]
    return {"id": device_id, "keyId": data["id"], "secret": data["secret"]}


@pytest.fixture
def seed(stack: Any, thing: dict[str, str]) -> Seed:
    return Seed(stack.url, thing["keyId"], thing["secret"])


def test_report_then_read_the_shadow_as_the_seed_shows(
    seed: Seed, operator: requests.Session, thing: dict[str, str]
) -> None:
    status, accepted = seed.run(REPORT)
    assert status == 200, accepted
    assert accepted["clientToken"] == "tok-001"
    assert accepted["state"] == {"reported": {"temperature": 21.5, "humidity": 58}}
    desired = operator.patch(
        f"{operator.base_url}/manage/v1/devices/{thing['id']}/shadow",
        json={"state": {"desired": {"targetTemperature": 24}}},
    )
    assert desired.status_code == 200, desired.text

    status, shadow = seed.run(READ)

    assert status == 200, shadow
    assert shadow["reported"]["temperature"] == 21.5
    assert shadow["desired"] == {"targetTemperature": 24}
    assert shadow["delta"] == {"targetTemperature": 24}
    assert shadow["version"] >= 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", shadow["updatedAt"])


def test_publish_an_event_as_the_seed_shows(
    seed: Seed, operator: requests.Session, thing: dict[str, str]
) -> None:
    status, body = seed.run(EVENT)

    assert status == 200, body
    events = operator.get(
        f"{operator.base_url}/manage/v1/devices/{thing['id']}/events",
        params={"eventType": "highTemperature", "severity": "warn"},
    ).json()["data"]
    assert any(e["timestamp"] == 1748390400000 and e["data"] == {"currentTemp": 45.2} for e in events)


def test_answer_a_command_as_the_seed_shows(
    seed: Seed, operator: requests.Session, thing: dict[str, str]
) -> None:
    sent = operator.post(
        f"{operator.base_url}/manage/v1/devices/{thing['id']}/commands",
        json={
            "action": "setTemperature",
            "params": {"value": 24},
            "ttl": 30,
            "executionId": SEED_EXECUTION_ID,
        },
    )
    assert sent.status_code == 201, sent.text
    execution_id = sent.json()["data"]["executionId"]

    status, body = seed.run(COMMAND_RESPONSE)  # verbatim: the operator chose the seed's executionId

    assert status == 200, body
    read = operator.get(f"{operator.base_url}/manage/v1/devices/{thing['id']}/commands/{execution_id}").json()
    assert read["data"]["status"] == "SUCCEEDED"
    assert read["data"]["result"] == {"currentTemperature": 24}


def test_take_and_finish_a_job_as_the_seed_shows(seed: Seed, operator: requests.Session) -> None:
    job_id = f"firmware-{uuid.uuid4().hex[:8]}"
    created = operator.post(
        f"{operator.base_url}/manage/v1/jobs",
        json={"jobId": job_id, "document": {"version": "2.0.0"}, "targets": {"thingNames": [THING]}},
    )
    assert created.status_code == 201, created.text

    status, pending = seed.run(JOBS_GET)
    assert status == 200, pending
    assert pending["clientToken"] == "req-1"
    assert job_id in [j["jobId"] for j in pending["queuedJobs"] + pending["inProgressJobs"]]

    status, updated = seed.run(JOB_UPDATE, **{"{jobId}": job_id})
    assert status == 200, updated
    assert updated["clientToken"] == "req-3"
    job = operator.get(f"{operator.base_url}/manage/v1/jobs/{job_id}").json()["data"]
    assert job["status"] == "COMPLETED"

    status, again = seed.run(JOB_UPDATE, **{"{jobId}": job_id})  # a retry with the same clientToken
    assert status == 200, again


def test_the_seed_lines_with_a_wrong_secret_are_401(stack: Any, thing: dict[str, str]) -> None:
    wrong = Seed(stack.url, thing["keyId"], "not-the-secret")

    status, body = wrong.run(READ)

    assert status == 401
    assert body["code"] == "Unauthorized"
