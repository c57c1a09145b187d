"""ThingsBoard GET /api/v1/{token}/attributes/updates: the long-poll for shared-attribute changes,
handlers in process against moto (wake-ups through the device's SQS queue)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from fleetgate.domain.shadow import CLASSIC, ShadowUpdate
from fleetgate.services import attributes, devices, longpoll, shadows
from tests.integration.conftest import Device, Stack, event, with_body, with_query

POLL = "TbGetAttributeUpdatesFunction"


def poll(stack: Stack, device: Device, timeout: str = "1000") -> dict[str, Any]:
    return stack.invoke(
        POLL, with_query(event("thingsboard/get_attribute_updates", token=device.token), {"timeout": timeout})
    )


def set_shared(stack: Stack, device: Device, values: dict[str, Any]) -> None:
    response = stack.invoke(
        "ManageDevicesFunction",
        with_body(event("manage/put_shared_attributes", device_id=device.id), json.dumps(values)),
    )
    assert response["statusCode"] == 200, response


def delete_shared(stack: Stack, device: Device, keys: str) -> None:
    response = stack.invoke(
        "ManageDevicesFunction",
        with_query(event("manage/delete_shared_attributes", device_id=device.id), {"keys": keys}),
    )
    assert response["statusCode"] == 200, response


def test_nothing_changed_is_408_with_an_empty_body(stack: Stack, device: Device) -> None:
    started = time.monotonic()

    response = poll(stack, device, "1000")

    assert response["statusCode"] == 408
    assert response["body"] == ""
    assert 0.9 <= time.monotonic() - started < 5


def test_changes_made_while_the_device_was_away_all_arrive_in_one_response(
    stack: Stack, device: Device
) -> None:
    set_shared(stack, device, {"interval": 30})
    set_shared(stack, device, {"mode": "eco"})
    set_shared(stack, device, {"interval": 60, "target": {"t": 21.5}})

    response = poll(stack, device)

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert json.loads(response["body"]) == {"interval": 60, "mode": "eco", "target": {"t": 21.5}}
    assert poll(stack, device)["statusCode"] == 408  # delivered once


def test_deletions_follow_the_updates_in_the_next_response(stack: Stack, device: Device) -> None:
    set_shared(stack, device, {"a": 1, "b": 2, "c": 3})
    assert json.loads(poll(stack, device)["body"]) == {"a": 1, "b": 2, "c": 3}
    delete_shared(stack, device, "a,b")
    set_shared(stack, device, {"c": 4})

    first, second, third = poll(stack, device), poll(stack, device), poll(stack, device)

    assert json.loads(first["body"]) == {"c": 4}
    assert json.loads(second["body"]) == {"deleted": ["a", "b"]}
    assert third["statusCode"] == 408


def test_a_change_during_the_poll_wakes_it(stack: Stack, device: Device) -> None:
    result: dict[str, Any] = {}

    def waiting_poll() -> None:
        started = time.monotonic()
        result["response"] = poll(stack, device, "15000")
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=waiting_poll)
    thread.start()
    time.sleep(1.5)
    attributes.set_shared(devices.get(device.id), {"wake": True})
    thread.join(20)

    assert json.loads(result["response"]["body"]) == {"wake": True}
    assert result["seconds"] < 8


def test_a_lost_wake_up_loses_nothing(stack: Stack, device: Device) -> None:
    """The store is the truth: a change whose wake-up never arrived is found by the next check."""
    shadows.update(device.id, CLASSIC, ShadowUpdate(state={"desired": {"silent": 1}}))  # no wake-up sent

    response = poll(stack, device, "1000")

    assert json.loads(response["body"]) == {"silent": 1}


def test_the_wait_is_capped_whatever_the_device_asks(
    stack: Stack, device: Device, monkeypatch: pytest.MonkeyPatch
) -> None:

    assert longpoll.wait_seconds(3_600_000) == 25
    assert longpoll.wait_seconds(0) == 25
    assert longpoll.wait_seconds(None) == 25
    assert longpoll.wait_seconds(-5) == 0


def test_negative_timeout_answers_at_once(stack: Stack, device: Device) -> None:
    started = time.monotonic()

    assert poll(stack, device, "-1")["statusCode"] == 408
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("timeout", ["soon", "1.5", "1e3", "99999999999999999999"])
def test_bad_timeout_is_400(stack: Stack, device: Device, timeout: str) -> None:
    response = poll(stack, device, timeout)

    assert response["statusCode"] == 400
    assert "timeout" in response["body"]


def test_unknown_token_is_401(stack: Stack, device: Device) -> None:
    response = poll(stack, Device(device.id, "wrong"), "1000")

    assert response["statusCode"] == 401
    assert response["body"] == ""


def test_concurrent_changes_and_polls_lose_nothing(stack: Stack, device: Device) -> None:
    record = devices.get(device.id)
    received: dict[str, Any] = {}
    stop = threading.Event()

    def poller() -> None:
        while not stop.is_set() or len(received) < 20:
            update = attributes.next_update(record.id)
            if update:
                received.update(update)
            elif stop.is_set():
                return

    def change(i: int) -> None:
        attributes.set_shared(record, {f"k{i}": i})

    thread = threading.Thread(target=poller)
    thread.start()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(change, range(20)))
    stop.set()
    thread.join(30)

    assert received == {f"k{i}": i for i in range(20)}
