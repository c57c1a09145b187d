"""MQTT messages as AWS IoT topic rules deliver them to Lambda: the rule's SELECT result becomes a
typed ``Message``. Like ``fleetgate.http`` it costs nothing to import.

Every rule of the template that invokes a function uses this one SELECT (SQL version 2016-03-23)::

    SELECT encode(*, 'base64') AS payload, topic() AS topic, clientid() AS clientId,
           principal() AS principal, timestamp() AS timestamp,
           get_user_properties() AS userProperties,
           get_mqtt_property('response_topic') AS responseTopic,
           get_mqtt_property('correlation_data') AS correlationData
    FROM '<topic filter>'

- ``payload``: base64 text of the raw bytes (``encode(*, 'base64')`` passes any payload, JSON or not);
  a JSON object or array in its place is taken as the payload itself (a rule that selects JSON).
- ``clientId``: ``clientid()``; AWS gives ``n/a`` when the message did not come over MQTT, read as None.
- MQTT 5 properties are absent when the publisher sent none (a rule leaves out undefined values):
  ``responseTopic`` a topic, ``correlationData`` base64 (as ``get_mqtt_property`` returns it),
  ``userProperties`` a list of ``{"key", "value"}`` objects or an object of a value or list of values.

Invariant: ``Message.from_rule_event`` either returns a complete message or raises ``InvalidRequest``
(``PayloadTooLarge`` over the limit); it never raises anything else, whatever the event.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from fleetgate.errors import InvalidRequest, PayloadTooLarge
from fleetgate.jsonutil import loads

MAX_TOPIC = 256  # AWS IoT Core's topic limit (bytes)
MAX_PROPERTIES = 100
SELECT = (
    "SELECT encode(*, 'base64') AS payload, topic() AS topic, clientid() AS clientId, "
    "principal() AS principal, timestamp() AS timestamp, get_user_properties() AS userProperties, "
    "get_mqtt_property('response_topic') AS responseTopic, "
    "get_mqtt_property('correlation_data') AS correlationData"
)


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    client_id: str | None = None
    principal: str | None = None
    timestamp_ms: int | None = None
    user_properties: tuple[tuple[str, str], ...] = ()
    response_topic: str | None = None
    correlation_data: bytes | None = None

    @classmethod
    def from_rule_event(cls, event: Any, *, payload_limit: int) -> Message:
        try:
            return cls._parse(event, payload_limit)
        except (InvalidRequest, PayloadTooLarge):
            raise
        except Exception as exc:
            raise InvalidRequest(f"Unreadable topic-rule event: {type(exc).__name__}") from exc

    @classmethod
    def _parse(cls, event: Any, limit: int) -> Message:
        if not isinstance(event, dict):
            raise InvalidRequest("A topic-rule event is a JSON object")
        topic = _text(event, "topic", required=True)
        assert topic is not None
        if len(topic.encode()) > MAX_TOPIC or "+" in topic or "#" in topic:
            raise InvalidRequest("topic must be a topic name of at most 256 bytes")
        client_id = _text(event, "clientId")
        timestamp = event.get("timestamp")
        if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)):
            raise InvalidRequest("timestamp must be epoch milliseconds")
        correlation = _text(event, "correlationData")
        return cls(
            topic=topic,
            payload=_payload(event.get("payload"), limit),
            client_id=None if client_id in (None, "", "n/a") else client_id,
            principal=_text(event, "principal"),
            timestamp_ms=timestamp,
            user_properties=_user_properties(event.get("userProperties")),
            response_topic=_text(event, "responseTopic") or None,
            correlation_data=None if correlation is None else _base64(correlation, "correlationData"),
        )

    def json(self) -> Any:
        """The payload as strict JSON (UTF-8, no NaN/Infinity)."""
        try:
            return loads(self.payload.decode("utf-8"))
        except (UnicodeDecodeError, InvalidRequest) as exc:
            raise InvalidRequest("The payload is not valid JSON") from exc

    def levels(self) -> list[str]:
        return self.topic.split("/")


def _text(event: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = event.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string")
    return value


def _payload(value: Any, limit: int) -> bytes:
    if isinstance(value, str):
        if len(value) > (limit + 2) // 3 * 4:
            raise PayloadTooLarge(f"Payload size exceeds the limit of {limit} bytes")
        data = _base64(value, "payload")
    elif isinstance(value, dict | list):
        data = json.dumps(value, separators=(",", ":")).encode()
    elif value is None:
        raise InvalidRequest("payload is required")
    else:
        raise InvalidRequest("payload must be base64 text or a JSON object")
    if len(data) > limit:
        raise PayloadTooLarge(f"Payload size exceeds the limit of {limit} bytes")
    return data


def _base64(text: str, name: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"{name} is not valid base64") from exc


def _user_properties(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or set(item) != {"key", "value"}:
                raise InvalidRequest("userProperties must be {key, value} objects")
            pairs.append((item["key"], item["value"]))
    elif isinstance(value, dict):
        for key, item in value.items():
            pairs.extend((key, v) for v in (item if isinstance(item, list) else [item]))
    else:
        raise InvalidRequest("userProperties must be a list or an object")
    if len(pairs) > MAX_PROPERTIES or not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
        raise InvalidRequest(f"userProperties must be at most {MAX_PROPERTIES} pairs of strings")
    return tuple(pairs)
