"""Shared-attribute updates over real HTTP: ThingsBoard's SDK `subscribe('attributes')`, unmodified,
receives what the operator changes, and changes made while no poll waited are not lost."""

from __future__ import annotations

import queue
import time
import uuid
from typing import Any

import pytest
import requests
from tb_device_http import TBHTTPDevice

pytestmark = pytest.mark.e2e


@pytest.fixture
def device(operator: requests.Session) -> dict[str, str]:
    response = operator.post(
        f"{operator.base_url}/manage/v1/devices", json={"name": f"upd-{uuid.uuid4().hex[:12]}"}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return {"id": data["id"], "token": data["credentials"]["accessToken"]}


def shared(operator: requests.Session, device: dict[str, str]) -> str:
    return f"{operator.base_url}/manage/v1/devices/{device['id']}/attributes/shared"


def test_sdk_subscription_receives_operator_changes_and_deletions(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    sdk = TBHTTPDevice(stack.url, device["token"])
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    sdk.subscribe("attributes", received.put)
    try:
        time.sleep(0.5)  # the SDK's poll is now waiting
        started = time.monotonic()
        assert operator.put(shared(operator, device), json={"interval": 42}).status_code == 200
        first = received.get(timeout=10)
        latency = time.monotonic() - started
        assert operator.delete(shared(operator, device), params={"keys": "interval"}).status_code == 200
        second = received.get(timeout=10)
    finally:
        sdk.unsubscribe("attributes")  # its loop ends after the current poll

    assert first == {"interval": 42}
    assert latency < 5, "the wake-up queue should end the wait at once"
    assert second == {"deleted": ["interval"]}


def test_changes_while_not_polling_arrive_on_the_next_poll(
    stack: Any, operator: requests.Session, device: dict[str, str]
) -> None:
    for values in ({"fw_url": "http://old"}, {"fw_title": "fw", "fw_version": "2.0"}):
        assert operator.put(shared(operator, device), json=values).status_code == 200
    assert operator.delete(shared(operator, device), params={"keys": "fw_url"}).status_code == 200
    url = f"{stack.url}/api/v1/{device['token']}/attributes/updates"

    first = requests.get(url, params={"timeout": 1000}, timeout=10)
    second = requests.get(url, params={"timeout": 1000}, timeout=10)

    # ThingsBoard loses the fw_* update here (docs/thingsboard.md, "Where we differ"); nothing is lost,
    # and the deleted fw_url was never delivered, so there is nothing to delete either
    assert first.status_code == 200
    assert first.json() == {"fw_title": "fw", "fw_version": "2.0"}
    assert second.status_code == 408
    assert second.content == b""
