"""Long-polls that wait out the real cap (``LongPollCapSeconds``, 25 s by default) end in 408, never 500,
on both channels, and ThingsBoard's SDK with its defaults (``timeout`` of 30 000 ms) keeps its
subscription through an idle poll, so a change made after it still arrives.

Everything here waits concurrently, so the module costs one cap (about 30 s), not one per case.
"""

from __future__ import annotations

import queue
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from tb_device_http import TBHTTPDevice

pytestmark = pytest.mark.e2e

CAP_S = 25  # the template's LongPollCapSeconds default
CHANNELS = {"attributes": "attributes/updates", "rpc": "rpc"}
# Absent, 0 (= the cap), the SDK's default, above SQS's 20 s receive, and ThingsBoard's documented one.
TIMEOUTS_MS: tuple[int | None, ...] = (None, 0, 30_000, 21_000, 20_000)


def new_device(operator: requests.Session) -> dict[str, str]:
    response = operator.post(
        f"{operator.base_url}/manage/v1/devices", json={"name": f"cap-{uuid.uuid4().hex[:12]}"}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return {"id": data["id"], "token": data["credentials"]["accessToken"]}


def idle_poll(url: str, timeout_ms: int | None) -> tuple[int, bytes, float]:
    params = {} if timeout_ms is None else {"timeout": timeout_ms}
    started = time.monotonic()
    response = requests.get(url, params=params, timeout=CAP_S + 15)
    return response.status_code, response.content, time.monotonic() - started


def test_idle_polls_end_in_408_at_the_cap_and_the_sdk_keeps_its_subscriptions(
    stack: Any, operator: requests.Session
) -> None:
    # Given one device per raw poll and one device whose SDK subscribes to both channels with defaults
    polled = {(channel, timeout): new_device(operator) for channel in CHANNELS for timeout in TIMEOUTS_MS}
    subscriber = new_device(operator)
    sdk = TBHTTPDevice(stack.url, subscriber["token"])
    attributes: queue.Queue[dict[str, Any]] = queue.Queue()
    rpcs: queue.Queue[dict[str, Any]] = queue.Queue()
    sdk.subscribe("attributes", attributes.put)
    sdk.subscribe("rpc", rpcs.put)
    try:
        # When every poll waits with nothing to deliver (after one short poll each, so that what is
        # timed is the wait, not the local stack starting a worker process for each concurrent poll)
        with ThreadPoolExecutor(max_workers=len(polled)) as pool:
            warm = [
                pool.submit(idle_poll, f"{stack.url}/api/v1/{device['token']}/{CHANNELS[channel]}", 1000)
                for (channel, _), device in polled.items()
            ]
            assert all(future.result()[0] == 408 for future in warm)
            futures = {
                (channel, timeout): pool.submit(
                    idle_poll, f"{stack.url}/api/v1/{device['token']}/{CHANNELS[channel]}", timeout
                )
                for (channel, timeout), device in polled.items()
            }
            results = {key: future.result() for key, future in futures.items()}
        # and only then, after the SDK's first idle polls ended, the operator changes something
        base = f"{operator.base_url}/manage/v1/devices/{subscriber['id']}"
        assert operator.put(f"{base}/attributes/shared", json={"interval": 7}).status_code == 200
        sent = operator.post(f"{base}/rpc", json={"method": "reboot", "params": {}, "oneway": True})
        assert sent.status_code in (200, 202), sent.text
        update = attributes.get(timeout=10)
        command = rpcs.get(timeout=10)
    finally:
        sdk.unsubscribe("attributes")
        sdk.unsubscribe("rpc")

    # Then every idle poll answered 408 with no body after waiting what it asked (at most the cap), not
    # 500 at 29 s
    for key, (status, body, elapsed) in results.items():
        expected_s = CAP_S if not key[1] else min(CAP_S, key[1] / 1000)
        assert (status, body) == (408, b""), key
        assert expected_s - 0.5 <= elapsed < expected_s + 5, (key, elapsed)
    # and the SDK, still subscribed, received both changes
    assert update == {"interval": 7}
    assert command["method"] == "reboot"
