"""ThingsBoard devices over real HTTP against a local stack: ThingsBoard's own Python SDK, unmodified,
and the curl lines of ThingsBoard's documentation exactly as printed, run by a shell."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from tb_device_http import TBHTTPDevice

pytestmark = pytest.mark.e2e


@pytest.fixture
def device(operator: requests.Session) -> dict[str, str]:
    """A fresh device registered through the operator API: {"id", "token"}."""
    response = operator.post(
        f"{operator.base_url}/manage/v1/devices", json={"name": f"tb-{uuid.uuid4().hex[:12]}"}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return {"id": data["id"], "token": data["credentials"]["accessToken"]}


def latest(operator: requests.Session, device_id: str) -> dict[str, Any]:
    response = operator.get(f"{operator.base_url}/manage/v1/devices/{device_id}/telemetry/latest")
    assert response.status_code == 200, response.text
    return {k: v["value"] for k, v in response.json()["data"].items()}


def client_attributes(operator: requests.Session, device_id: str) -> dict[str, Any]:
    response = operator.get(f"{operator.base_url}/manage/v1/devices/{device_id}/attributes")
    assert response.status_code == 200, response.text
    return dict(response.json()["data"]["client"])


# --------------------------------------------------------------------------- ThingsBoard's SDK
def test_sdk_connects_with_a_valid_token_only(stack: Any, device: dict[str, str]) -> None:
    good = TBHTTPDevice(stack.url, device["token"])
    bad = TBHTTPDevice(stack.url, "no-such-token")

    assert good.test_connection() is True
    assert bad.test_connection() is False


def test_sdk_sends_timestamped_telemetry(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    sdk = TBHTTPDevice(stack.url, device["token"])
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)

    sdk.send_telemetry({"temperature": 21.5, "door": "open"}, timestamp=when, queued=False)

    response = operator.get(
        f"{operator.base_url}/manage/v1/devices/{device['id']}/telemetry", params={"keys": "temperature,door"}
    )
    assert response.json()["data"] == {
        "temperature": [{"ts": int(when.timestamp() * 1000), "value": 21.5}],
        "door": [{"ts": int(when.timestamp() * 1000), "value": "open"}],
    }


def test_sdk_sends_and_requests_attributes(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    sdk = TBHTTPDevice(stack.url, device["token"])
    put = operator.put(
        f"{operator.base_url}/manage/v1/devices/{device['id']}/attributes/shared", json={"interval": 30}
    )
    assert put.status_code == 200, put.text

    sdk.send_attributes({"firmware": "v1.2", "battery": 87})
    everything = sdk.request_attributes()
    # the SDK sends client_keys=/shared_keys= (ThingsBoard ignores those names and returns everything)
    asked = sdk.request_attributes(client_keys=["firmware"], shared_keys=["interval"])

    assert everything == {"client": {"firmware": "v1.2", "battery": 87}, "shared": {"interval": 30}}
    assert asked == everything
    assert client_attributes(operator, device["id"]) == {"firmware": "v1.2", "battery": 87}


def test_sdk_connect_starts_its_publisher_and_queued_telemetry_arrives(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    sdk = TBHTTPDevice(stack.url, device["token"])
    assert sdk.connect() is True

    sdk.send_telemetry({"queued": 1}, timestamp=datetime(2026, 5, 1, tzinfo=UTC))

    deadline = datetime.now(UTC).timestamp() + 10
    while datetime.now(UTC).timestamp() < deadline and "queued" not in latest(operator, device["id"]):
        time.sleep(0.2)
    assert latest(operator, device["id"])["queued"] == 1


# --------------------------------------------------------------------------- the documentation's curl lines
SEED_FILES = {
    "telemetry-data-as-object.json": """{
"stringKey": "value1",
"booleanKey": true,
"doubleKey": 42.0,
"longKey": 73,
"jsonKey": {
"someNumber": 42,
"someArray": [1,2,3],
"someNestedObject": {"key": "value"}
}
}""",
    "telemetry-data-as-array.json": '[{"key1":"value1"}, {"key2":true}]',
    "telemetry-data-with-ts.json": """{
"ts": 1451649600512,
"values": {
"stringKey": "value1",
"booleanKey": true,
"doubleKey": 42.0,
"longKey": 73,
"jsonKey": {
"someNumber": 42,
"someArray": [1, 2, 3],
"someNestedObject": {
"key": "value"
}
}
}
}""",
    "new-attributes-values.json": """{
"attribute1": "value1",
"attribute2": true,
"attribute3": 42.0,
"attribute4": 73,
"attribute5": {
"someNumber": 42,
"someArray": [1,2,3],
"someNestedObject": {"key": "value"}
}
}""",
}

# Verbatim from ThingsBoard's HTTP API documentation, host and token from the environment.
SEED_CURLS = {
    "telemetry example 1": 'curl -v -X POST --data "{"temperature":42,"humidity":73}" '
    "http://$THINGSBOARD_EDGE_HOST_NAME/api/v1/$ACCESS_TOKEN/telemetry "
    '--header "Content-Type:application/json"',
    "telemetry example 2": "curl -v -X POST -d @telemetry-data-as-object.json "
    "http://$THINGSBOARD_EDGE_HOST_NAME/api/v1/$ACCESS_TOKEN/telemetry "
    '--header "Content-Type:application/json"',
    "telemetry example 3": "curl -v -X POST -d @telemetry-data-as-array.json "
    "http://$THINGSBOARD_EDGE_HOST_NAME/api/v1/$ACCESS_TOKEN/telemetry "
    '--header "Content-Type:application/json"',
    "telemetry example 4": "curl -v -X POST -d @telemetry-data-with-ts.json "
    "http://$THINGSBOARD_EDGE_HOST_NAME/api/v1/$ACCESS_TOKEN/telemetry "
    '--header "Content-Type:application/json"',
    "attributes example 1": 'curl -v -X POST --data "{"attribute1": "value1", "attribute2":true, '
    '"attribute3": 43.0}" http://$THINGSBOARD_EDGE_HOST_NAME/api/v1/$ACCESS_TOKEN/attributes '
    '--header "Content-Type:application/json"',
    "attributes example 2": "curl -v -X POST -d @new-attributes-values.json "
    "http://$THINGSBOARD_EDGE_HOST_NAME/api/v1/$ACCESS_TOKEN/attributes "
    '--header "Content-Type:application/json"',
}
READ_CURL = (
    "curl -v -X GET http://$THINGSBOARD_EDGE_HOST_NAME/api/v1/$ACCESS_TOKEN/attributes"
    "?clientKeys=attribute1,attribute2&sharedKeys=shared1,shared2"
)


def shell(command: str, cwd: Path, stack: Any, token: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as a user's shell would (quotes and all), then wait for background jobs."""
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "THINGSBOARD_EDGE_HOST_NAME": stack.url.split("//", 1)[1],
        "ACCESS_TOKEN": token,
    }
    return subprocess.run(
        ["bash", "-c", command + "\nwait"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def status_of(result: subprocess.CompletedProcess[str]) -> int:
    for line in result.stderr.splitlines():
        if line.startswith("< HTTP/"):
            return int(line.split()[2])
    raise AssertionError(result.stderr)


@pytest.mark.parametrize("example", sorted(SEED_CURLS))
def test_seed_curl_examples_return_200(
    stack: Any, device: dict[str, str], tmp_path: Path, example: str
) -> None:
    for name, content in SEED_FILES.items():
        (tmp_path / name).write_text(content)

    result = shell(SEED_CURLS[example], tmp_path, stack, device["token"])

    assert status_of(result) == 200, result.stderr


def test_seed_examples_read_back_through_the_operator_api(
    stack: Any, operator: requests.Session, device: dict[str, str], tmp_path: Path
) -> None:
    for name, content in SEED_FILES.items():
        (tmp_path / name).write_text(content)
    for example in sorted(SEED_CURLS):
        assert status_of(shell(SEED_CURLS[example], tmp_path, stack, device["token"])) == 200

    values = latest(operator, device["id"])
    history = operator.get(
        f"{operator.base_url}/manage/v1/devices/{device['id']}/telemetry", params={"keys": "longKey"}
    ).json()["data"]
    attributes = client_attributes(operator, device["id"])
    read = shell(READ_CURL, tmp_path, stack, device["token"])

    assert values["temperature"] == 42 and values["humidity"] == 73
    assert values["key1"] == "value1" and values["key2"] is True
    assert values["doubleKey"] == 42.0 and values["jsonKey"]["someArray"] == [1, 2, 3]
    assert {"ts": 1451649600512, "value": 73} in history["longKey"]
    assert attributes["attribute1"] == "value1" and attributes["attribute3"] == 42.0
    assert attributes["attribute5"]["someNestedObject"] == {"key": "value"}
    # the shell runs curl in the background at '&', so only clientKeys reaches the server, and the
    # answer is the documented one
    assert json.loads(read.stdout) == {"client": {"attribute1": "value1", "attribute2": True}}


# --------------------------------------------------------------------------- bad input over the wire
@pytest.mark.parametrize(
    ("body", "status"),
    [("{temperature:42", 400), ("[1,2]", 400), ("", 400), ('{"a":1,}', 400)],
)
def test_bad_bodies_get_4xx_and_nothing_is_written(
    stack: Any, operator: requests.Session, device: dict[str, str], body: str, status: int
) -> None:
    response = requests.post(f"{stack.url}/api/v1/{device['token']}/telemetry", data=body, timeout=10)

    assert response.status_code == status
    assert latest(operator, device["id"]) == {}


def test_oversized_body_is_413(stack: Any, operator: requests.Session, device: dict[str, str]) -> None:
    response = requests.post(
        f"{stack.url}/api/v1/{device['token']}/attributes", data="x" * (1024 * 1024 + 1), timeout=10
    )

    assert response.status_code == 413
    assert response.json().startswith("Payload size exceeds the limit of")
    assert client_attributes(operator, device["id"]) == {}


def test_unknown_token_is_401_with_an_empty_body(stack: Any) -> None:
    response = requests.post(f"{stack.url}/api/v1/nope/telemetry", json={"a": 1}, timeout=10)

    assert response.status_code == 401
    assert response.content == b""


def test_parallel_attribute_writers_over_http_lose_nothing(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    writers = 16

    def write(i: int) -> int:
        return requests.post(
            f"{stack.url}/api/v1/{device['token']}/attributes", json={f"k{i}": i}, timeout=30
        ).status_code

    with ThreadPoolExecutor(max_workers=writers) as pool:
        statuses = list(pool.map(write, range(writers)))

    assert statuses == [200] * writers
    assert client_attributes(operator, device["id"]) == {f"k{i}": i for i in range(writers)}
