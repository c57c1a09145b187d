"""Fifty writers at once on one device, over real HTTP against the local stack (its handlers in warm
worker processes): nothing is lost, versions grow strictly, and contention never becomes a 503.

Each scenario starts its writers together on a barrier; the local stack runs a bounded number of
workers per function, so the writers also queue, as requests do behind Lambda's concurrency. Before
the storm, a burst of requests that write nothing (a 4xx) starts the function's workers, so that what
is measured is contention, not cold starts. Every storm prints its latencies (run with ``-s``).
"""

from __future__ import annotations

import base64
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.e2e.conftest import OperatorSession

pytestmark = pytest.mark.e2e

WRITERS = 50
WORKERS = 10  # the local stack's warm workers per function
HTTP_TIMEOUT_S = 60


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    seconds: float


def warm(refused: Callable[[], requests.Response]) -> None:
    """Start the workers of a function with ``WORKERS`` concurrent requests it refuses (a 4xx, or a 500
    when a worker's start outlasts Lambda's init limit on a busy machine: it is only a warm-up)."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for response in pool.map(lambda _: refused(), range(WORKERS)):
            assert response.status_code in (400, 404, 500), response.text


def storm(label: str, write: Callable[[int], requests.Response]) -> list[Answer]:
    """``write(i)`` for i in 0..WRITERS-1, all started together; the answers in writer order."""
    barrier = threading.Barrier(WRITERS)

    def one(i: int) -> Answer:
        barrier.wait()
        started = time.perf_counter()
        response = write(i)
        elapsed = time.perf_counter() - started
        body = (
            response.json()
            if response.content and "json" in response.headers.get("content-type", "")
            else None
        )
        return Answer(response.status_code, body, elapsed)

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        answers = list(pool.map(one, range(WRITERS)))
    times = sorted(a.seconds for a in answers)
    unavailable = sum(a.status == 503 for a in answers)
    print(
        f"\n[race] {label}: {WRITERS} writers, p50 {statistics.median(times) * 1000:.0f} ms, "
        f"p99 {times[int(0.99 * (len(times) - 1))] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms, "
        f"503s {unavailable}"
    )
    return answers


def statuses(answers: list[Answer]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for answer in answers:
        counts[answer.status] = counts.get(answer.status, 0) + 1
    return counts


def session() -> requests.Session:
    """One connection pool big enough for every writer."""
    http = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=WRITERS)
    http.mount("http://", adapter)
    return http


@pytest.fixture
def thing(operator: OperatorSession) -> dict[str, str]:
    """A fresh device (also a ThingDatas thing) and a device API key limited to it."""
    name = f"race-{uuid.uuid4().hex[:10]}"
    created = operator.post(
        f"{operator.base_url}/manage/v1/devices", json={"name": name}, timeout=HTTP_TIMEOUT_S
    )
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    key = operator.post(
        f"{operator.base_url}/manage/v1/api-keys",
        json={
            "name": "races e2e",
            "permissions": [
                {"method": "POST", "path": "/api/v1/thing-datas"},
                {"method": "GET", "path": "/api/v1/thing-datas"},
            ],
            "thingNames": [name],
        },
        timeout=HTTP_TIMEOUT_S,
    )
    assert key.status_code == 201, key.text
    secret = key.json()["data"]
    auth = "Basic " + base64.b64encode(f"{secret['id']}:{secret['secret']}".encode()).decode()
    return {"id": data["id"], "name": name, "token": data["credentials"]["accessToken"], "auth": auth}


def shadow_history(operator: OperatorSession, device_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if token:
            params["nextToken"] = token
        page = operator.get(
            f"{operator.base_url}/manage/v1/devices/{device_id}/shadow/history",
            params=params,
            timeout=HTTP_TIMEOUT_S,
        )
        assert page.status_code == 200, page.text
        entries.extend(page.json()["data"])
        token = page.json().get("nextToken")
        if not token:
            return entries


def the_shadow(operator: OperatorSession, device_id: str) -> dict[str, Any]:
    response = operator.get(
        f"{operator.base_url}/manage/v1/devices/{device_id}/shadow", timeout=HTTP_TIMEOUT_S
    )
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()["data"]
    return document


# --------------------------------------------------------------------------- reported: two dialects
def test_fifty_thingdatas_reports_lose_nothing_and_get_fifty_versions(
    stack: Any, operator: OperatorSession, thing: dict[str, str]
) -> None:
    # Given fifty devices' worth of reports aimed at one shadow, each under its own key
    http = session()
    url = f"{stack.url}/api/v1/thing-datas/shadow/reported"

    def write(i: int) -> requests.Response:
        body = {"thingName": thing["name"], "state": {"reported": {f"k{i}": i}}, "clientToken": f"w{i}"}
        return http.post(url, json=body, headers={"Authorization": thing["auth"]}, timeout=HTTP_TIMEOUT_S)

    warm(lambda: http.post(url, json={}, headers={"Authorization": thing["auth"]}, timeout=HTTP_TIMEOUT_S))

    # When they all report at once
    answers = storm("ThingDatas shadow/reported", write)

    # Then every one is accepted with a version of its own, and the shadow and its history hold them all
    assert statuses(answers) == {200: WRITERS}
    assert sorted(a.body["version"] for a in answers) == list(range(1, WRITERS + 1))
    shadow = the_shadow(operator, thing["id"])
    assert shadow["state"]["reported"] == {f"k{i}": i for i in range(WRITERS)}
    assert shadow["version"] == WRITERS
    history = shadow_history(operator, thing["id"])
    assert sorted(entry["version"] for entry in history) == list(range(1, WRITERS + 1))
    assert {entry["clientToken"]: entry["version"] for entry in history} == {
        f"w{i}": answers[i].body["version"] for i in range(WRITERS)
    }


def test_fifty_thingsboard_attribute_posts_lose_nothing(
    stack: Any, operator: OperatorSession, thing: dict[str, str]
) -> None:
    # Given fifty client-attribute posts for one device, each under its own key
    http = session()
    url = f"{stack.url}/api/v1/{thing['token']}/attributes"

    warm(lambda: http.post(url, data=b"", timeout=HTTP_TIMEOUT_S))

    # When they are all posted at once
    answers = storm(
        "ThingsBoard attributes", lambda i: http.post(url, json={f"a{i}": i}, timeout=HTTP_TIMEOUT_S)
    )

    # Then every one is a 200, the client attributes hold all fifty, and each left one history entry
    assert statuses(answers) == {200: WRITERS}
    read = operator.get(
        f"{operator.base_url}/manage/v1/devices/{thing['id']}/attributes", timeout=HTTP_TIMEOUT_S
    )
    assert read.json()["data"]["client"] == {f"a{i}": i for i in range(WRITERS)}
    assert sorted(entry["version"] for entry in shadow_history(operator, thing["id"])) == list(
        range(1, WRITERS + 1)
    )


# --------------------------------------------------------------------------- desired: the operator
def test_fifty_shared_attribute_puts_lose_nothing(
    stack: Any, operator: OperatorSession, thing: dict[str, str]
) -> None:
    # Given fifty operators' shared attributes for one device, each under its own key
    url = f"{operator.base_url}/manage/v1/devices/{thing['id']}/attributes/shared"
    operator.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=WRITERS))

    warm(lambda: operator.put(url, json=[], timeout=HTTP_TIMEOUT_S))

    # When they are all put at once
    answers = storm(
        "operator shared attributes", lambda i: operator.put(url, json={f"s{i}": i}, timeout=HTTP_TIMEOUT_S)
    )

    # Then all are 200 and the shared attributes (the desired side) hold all fifty, at version fifty
    assert statuses(answers) == {200: WRITERS}
    shadow = the_shadow(operator, thing["id"])
    assert shadow["state"]["desired"] == {f"s{i}": i for i in range(WRITERS)}
    assert shadow["version"] == WRITERS


def test_fifty_desired_patches_lose_nothing_and_get_fifty_versions(
    stack: Any, operator: OperatorSession, thing: dict[str, str]
) -> None:
    # Given fifty desired-state patches of one shadow, each under its own key
    url = f"{operator.base_url}/manage/v1/devices/{thing['id']}/shadow"
    operator.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=WRITERS))

    warm(lambda: operator.patch(url, json={"state": {}}, timeout=HTTP_TIMEOUT_S))

    # When they are all sent at once
    answers = storm(
        "operator desired",
        lambda i: operator.patch(url, json={"state": {"desired": {f"d{i}": i}}}, timeout=HTTP_TIMEOUT_S),
    )

    # Then each is accepted with a version of its own and the shadow holds all fifty
    assert statuses(answers) == {200: WRITERS}
    assert sorted(a.body["data"]["version"] for a in answers) == list(range(1, WRITERS + 1))
    assert the_shadow(operator, thing["id"])["state"]["desired"] == {f"d{i}": i for i in range(WRITERS)}


# --------------------------------------------------------------------------- a job execution
def test_fifty_progress_updates_of_one_job_execution_get_fifty_versions(
    stack: Any, operator: OperatorSession, thing: dict[str, str]
) -> None:
    # Given a job execution the device has started
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    created = operator.post(
        f"{operator.base_url}/manage/v1/jobs",
        json={"jobId": job_id, "document": {"step": 1}, "targets": {"thingNames": [thing["name"]]}},
        timeout=HTTP_TIMEOUT_S,
    )
    assert created.status_code in (200, 201), created.text
    http = session()
    headers = {"Authorization": thing["auth"]}
    started = http.post(
        f"{stack.url}/api/v1/thing-datas/jobs/start-next",
        json={"thingName": thing["name"]},
        headers=headers,
        timeout=HTTP_TIMEOUT_S,
    )
    assert started.status_code == 200, started.text
    first = started.json()["execution"]["versionNumber"]
    url = f"{stack.url}/api/v1/thing-datas/jobs/{job_id}/update"

    def write(i: int) -> requests.Response:
        body = {
            "thingName": thing["name"],
            "status": "IN_PROGRESS",
            "statusDetails": {"writer": str(i)},
            "includeJobExecutionState": True,
        }
        return http.post(url, json=body, headers=headers, timeout=HTTP_TIMEOUT_S)

    warm(
        lambda: http.post(
            url,
            json={"thingName": thing["name"]},
            headers={"Authorization": thing["auth"]},
            timeout=HTTP_TIMEOUT_S,
        )
    )

    # When fifty progress updates arrive at once
    answers = storm("ThingDatas job execution updates", write)

    # Then every one is applied with its own version, and the last one applied is what is stored
    assert statuses(answers) == {200: WRITERS}
    versions = [a.body["executionState"]["versionNumber"] for a in answers]
    assert sorted(versions) == list(range(first + 1, first + WRITERS + 1))
    last = versions.index(max(versions))
    described = http.post(
        f"{stack.url}/api/v1/thing-datas/jobs/{job_id}/get",
        json={"thingName": thing["name"]},
        headers=headers,
        timeout=HTTP_TIMEOUT_S,
    )
    execution = described.json()["execution"]
    assert execution["versionNumber"] == first + WRITERS
    assert execution["statusDetails"] == {"writer": str(last)}


# --------------------------------------------------------------------------- command answers
def queue_rpcs(operator: OperatorSession, device_id: str, count: int) -> list[int]:
    ids = []
    for i in range(count):
        sent = operator.post(
            f"{operator.base_url}/manage/v1/devices/{device_id}/rpc",
            json={"method": "setGpio", "params": {"pin": i}, "persistent": True, "timeout": 600000},
            timeout=HTTP_TIMEOUT_S,
        )
        assert sent.status_code == 200, sent.text
        ids.append(int(sent.json()["data"]["id"]))
    return ids


def rpcs(operator: OperatorSession, device_id: str) -> dict[int, dict[str, Any]]:
    listed = operator.get(
        f"{operator.base_url}/manage/v1/devices/{device_id}/rpc",
        params={"limit": 100},
        timeout=HTTP_TIMEOUT_S,
    )
    assert listed.status_code == 200, listed.text
    return {int(r["id"]): r for r in listed.json()["data"]}


def test_fifty_replies_to_one_rpc_record_exactly_one(
    stack: Any, operator: OperatorSession, thing: dict[str, str]
) -> None:
    # Given one RPC the device has taken with its poll
    (rpc_id,) = queue_rpcs(operator, thing["id"], 1)
    http = session()
    polled = http.get(
        f"{stack.url}/api/v1/{thing['token']}/rpc", params={"timeout": 5000}, timeout=HTTP_TIMEOUT_S
    )
    assert polled.status_code == 200 and polled.json()["id"] == rpc_id, polled.text
    url = f"{stack.url}/api/v1/{thing['token']}/rpc/{rpc_id}"

    warm(lambda: http.post(f"{stack.url}/api/v1/{thing['token']}/rpc/x", data=b"{}", timeout=HTTP_TIMEOUT_S))

    # When fifty different replies to it arrive at once
    answers = storm(
        "ThingsBoard RPC replies (1 RPC)", lambda i: http.post(url, json={"r": i}, timeout=HTTP_TIMEOUT_S)
    )

    # Then all are 200, as ThingsBoard answers, and exactly one of them is the recorded response
    assert statuses(answers) == {200: WRITERS}
    stored = rpcs(operator, thing["id"])[rpc_id]
    assert stored["status"] == "SUCCESSFUL"
    assert stored["response"] in [{"r": i} for i in range(WRITERS)]


def send_commands(operator: OperatorSession, device_id: str, count: int) -> list[str]:
    ids = []
    for i in range(count):
        sent = operator.post(
            f"{operator.base_url}/manage/v1/devices/{device_id}/commands",
            json={"action": "reboot", "params": {"n": i}, "ttl": 600},
            timeout=HTTP_TIMEOUT_S,
        )
        assert sent.status_code == 201, sent.text
        ids.append(sent.json()["data"]["executionId"])
    return ids


def command(operator: OperatorSession, device_id: str, execution_id: str) -> dict[str, Any]:
    read = operator.get(
        f"{operator.base_url}/manage/v1/devices/{device_id}/commands/{execution_id}", timeout=HTTP_TIMEOUT_S
    )
    assert read.status_code == 200, read.text
    found: dict[str, Any] = read.json()["data"]
    return found


def test_fifty_command_responses_of_one_thing_are_all_recorded(
    stack: Any, operator: OperatorSession, thing: dict[str, str]
) -> None:
    # Given fifty commands sent to one thing
    ids = send_commands(operator, thing["id"], WRITERS)
    http = session()
    url = f"{stack.url}/api/v1/thing-datas/command/response"

    def write(i: int) -> requests.Response:
        body = {"thingName": thing["name"], "executionId": ids[i], "status": "SUCCEEDED", "result": {"n": i}}
        return http.post(url, json=body, headers={"Authorization": thing["auth"]}, timeout=HTTP_TIMEOUT_S)

    warm(lambda: http.post(url, json={}, headers={"Authorization": thing["auth"]}, timeout=HTTP_TIMEOUT_S))

    # When the thing answers all of them at once
    answers = storm("ThingDatas command responses (50 commands)", write)

    # Then each answer is recorded on its own execution
    assert statuses(answers) == {200: WRITERS}
    for i, execution_id in enumerate(ids):
        stored = command(operator, thing["id"], execution_id)
        assert (stored["status"], stored["result"]) == ("SUCCEEDED", {"n": i})


def test_fifty_different_responses_to_one_command_record_exactly_one(
    stack: Any, operator: OperatorSession, thing: dict[str, str]
) -> None:
    # Given one command
    (execution_id,) = send_commands(operator, thing["id"], 1)
    http = session()
    url = f"{stack.url}/api/v1/thing-datas/command/response"

    def write(i: int) -> requests.Response:
        body = {
            "thingName": thing["name"],
            "executionId": execution_id,
            "status": "SUCCEEDED",
            "result": {"n": i},
        }
        return http.post(url, json=body, headers={"Authorization": thing["auth"]}, timeout=HTTP_TIMEOUT_S)

    warm(lambda: http.post(url, json={}, headers={"Authorization": thing["auth"]}, timeout=HTTP_TIMEOUT_S))

    # When fifty different answers to it arrive at once
    answers = storm("ThingDatas command responses (1 command)", write)

    # Then exactly one wins, the others are told the execution already ended, and the winner is stored
    assert statuses(answers) == {200: 1, 409: WRITERS - 1}
    (winner,) = [i for i, a in enumerate(answers) if a.status == 200]
    stored = command(operator, thing["id"], execution_id)
    assert (stored["status"], stored["result"]) == ("SUCCEEDED", {"n": winner})
