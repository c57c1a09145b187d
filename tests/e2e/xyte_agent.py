"""A Xyte device for the end-to-end tests, doing what Xyte's sample agent (``xyte-io/nodejs-agent``) does:
register over HTTPS with a model's hardware key, then talk MQTT 5 to ``mqtt_hub_url`` with ``clientId =
username = id``, ``password = access_key`` and the user properties ``device_id`` and ``access_key`` on
every publish, or HTTPS to ``hub_url`` with ``Authorization: <access_key>``.

``MqttAgent`` keeps every message it receives; ``wait`` blocks on a condition until a message matching
it arrives (no sleeps).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
import requests
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.e2e.conftest import HTTP_TIMEOUT_S, OperatorSession

WAIT_S = 10.0
SERVER_TOPICS = ("config", "commands", "command", "license", "space_info", "firmware", "incidents")


# --------------------------------------------------------------------------- HTTPS: operator and registry
def create_model(operator: OperatorSession, api_version: str = "1.0.7") -> dict[str, Any]:
    """A Xyte model (``{id, hardware_key, ...}``: the key is only in this answer)."""
    response = operator.post(
        f"{operator.base_url}/manage/v1/xyte/models",
        json={"name": f"E2E projector {uuid.uuid4().hex[:8]}", "api_version": api_version, "vendor": "Acme"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 201, response.text
    model: dict[str, Any] = response.json()["data"]
    return model


@dataclass(frozen=True)
class Registered:
    """What ``POST /v1/devices`` answered."""

    id: str
    access_key: str
    hub_url: str
    mqtt_hub_url: str | None
    answer: dict[str, Any]


def register(entry_url: str, hardware_key: str, firmware_version: str = "1.0.1") -> Registered:
    """Register a device as the agent does: a Cloud ID, a MAC and a serial number."""
    unique = uuid.uuid4().hex
    mac = ":".join(unique[i : i + 2] for i in range(0, 12, 2))
    body = {
        "hardware_key": hardware_key,
        "cloud_id": unique,
        "mac": mac,
        "sn": unique[:12],
        "firmware_version": firmware_version,
        "name": f"e2e device {unique[:6]}",
    }
    response = requests.post(f"{entry_url}/v1/devices", json=body, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 201, response.text
    answer = response.json()
    return Registered(answer["id"], answer["access_key"], answer["hub_url"], answer["mqtt_hub_url"], answer)


def manage(operator: OperatorSession, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    """An operator call under ``/manage/v1``; its ``data``, the status checked."""
    response = operator.request(
        method, f"{operator.base_url}/manage/v1/{path}", json=body, timeout=HTTP_TIMEOUT_S
    )
    assert response.status_code == status, (method, path, response.status_code, response.text)
    return response.json()["data"] if response.content else None


class Hub:
    """The device's HTTPS side: ``hub_url`` with ``Authorization: <access_key>``."""

    def __init__(self, device: Registered) -> None:
        self.device = device
        self.base = f"{device.hub_url}/v1/devices/{device.id}"
        self.session = requests.Session()
        self.session.headers["Authorization"] = device.access_key

    def call(self, method: str, path: str = "", body: Any = None, **kwargs: Any) -> requests.Response:
        if body is not None:
            kwargs["json"] = body
        return self.session.request(method, f"{self.base}{path}", timeout=HTTP_TIMEOUT_S, **kwargs)

    def ok(self, method: str, path: str = "", body: Any = None, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, body, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json()

    def close(self) -> None:
        self.session.close()


# --------------------------------------------------------------------------- MQTT 5
@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    response_topic: str | None
    correlation_data: bytes | None
    message_expiry: int | None
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        return json.loads(self.payload)


class MqttAgent:
    """One MQTT 5 connection of a Xyte device, recording CONNACK, SUBACKs and messages."""

    def __init__(self, mqtt_url: str, device_id: str, access_key: str, client_id: str | None = None) -> None:
        parts = urlsplit(mqtt_url)
        assert parts.scheme == "mqtt" and parts.hostname and parts.port, mqtt_url
        self.host, self.port = parts.hostname, parts.port
        self.device_id = device_id
        self.access_key = access_key
        self.root = f"v1/device/{device_id}"
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or device_id, protocol=paho.MQTTv5
        )
        self.client.username_pw_set(device_id, access_key)
        self.received: list[Received] = []
        self.connack: int | None = None
        self.connect_s: float | None = None
        self._subacks: list[list[int]] = []
        self._changed = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # paho callbacks (its network thread)
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with self._changed:
            self.connack = reason.value
            self._changed.notify_all()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        with self._changed:
            self._subacks.append([r.value for r in reasons])
            self._changed.notify_all()

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        properties = message.properties
        item = Received(
            message.topic,
            message.payload,
            getattr(properties, "ResponseTopic", None),
            getattr(properties, "CorrelationData", None),
            getattr(properties, "MessageExpiryInterval", None),
            time.monotonic(),
        )
        with self._changed:
            self.received.append(item)
            self._changed.notify_all()

    def _until(self, condition: Callable[[], Any], timeout: float) -> Any:
        with self._changed:
            value = self._changed.wait_for(condition, timeout)
        return value

    # the device's actions
    def connect(self) -> int:
        """CONNECT; the CONNACK's reason code (0 accepted, 134 bad user name or password)."""
        started = time.monotonic()
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        assert self._until(lambda: self.connack is not None, WAIT_S), "no CONNACK"
        self.connect_s = time.monotonic() - started
        assert self.connack is not None
        return self.connack

    def subscribe(self, *filters: str) -> list[int]:
        """SUBSCRIBE to each filter (relative ones under ``v1/device/{id}/``); the SUBACK reason codes."""
        codes = []
        for topic_filter in filters:
            count = len(self._subacks)
            self.client.subscribe(self._topic(topic_filter), qos=1)
            assert self._until(lambda c=count: len(self._subacks) > c, WAIT_S), "no SUBACK"
            codes.append(self._subacks[-1][0])
        return codes

    def subscribe_server_topics(self) -> None:
        """The agent's subscriptions (``commands`` and Xyte's newer spelling ``command`` both)."""
        assert self.subscribe(*SERVER_TOPICS) == [1] * len(SERVER_TOPICS)

    def publish(
        self,
        topic: str,
        payload: Any,
        *,
        response_topic: str | None = None,
        correlation_data: bytes | None = None,
        user_properties: list[tuple[str, str]] | None = None,
    ) -> float:
        """PUBLISH at QoS 1 with the agent's user properties (unless given); returns once PUBACKed, the
        time it was sent (``time.monotonic()``)."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        properties = Properties(PacketTypes.PUBLISH)
        properties.UserProperty = (
            user_properties
            if user_properties is not None
            else [("device_id", self.device_id), ("access_key", self.access_key)]
        )
        if response_topic is not None:
            properties.ResponseTopic = self._topic(response_topic)
        if correlation_data is not None:
            properties.CorrelationData = correlation_data
        sent = time.monotonic()
        info = self.client.publish(self._topic(topic), data, qos=1, properties=properties)
        info.wait_for_publish(WAIT_S)
        assert info.is_published(), f"no PUBACK for {topic}"
        return sent

    def wait(
        self, topic: str, where: Callable[[Received], bool] = lambda m: True, count: int = 1
    ) -> list[Received]:
        """The first ``count`` messages on ``topic`` (relative or absolute) matching ``where``."""
        full = self._topic(topic)

        def found() -> list[Received]:
            hits = [m for m in self.received if m.topic == full and where(m)]
            return hits if len(hits) >= count else []

        hits = self._until(found, WAIT_S)
        assert hits, f"{count} message(s) on {full} not within {WAIT_S} s: got {self.topics()}"
        return list(hits[:count])

    def on(self, topic: str, where: Callable[[Received], bool] = lambda m: True) -> list[Received]:
        """The messages received on ``topic`` so far (matching ``where``)."""
        full = self._topic(topic)
        with self._changed:
            return [m for m in self.received if m.topic == full and where(m)]

    def topics(self) -> list[str]:
        with self._changed:
            return [m.topic for m in self.received]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _topic(self, topic: str) -> str:
        return topic if topic.startswith("v1/") else f"{self.root}/{topic}"
