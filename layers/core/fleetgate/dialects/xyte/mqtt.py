"""The Xyte device dialect over MQTT 5: topic-rule functions (``functions/xyte/on_<topic>/``) run their
endpoint through ``handle_message``.

- Topics are ``v1/device/{id}/<name>``; a message is accepted only when the topic's id is the MQTT
  client that sent it (``clientid()``: the authorizer lets a device connect as its own id only) and,
  when the message carries the ``access_key`` user property (Xyte's agents send ``device_id`` and
  ``access_key`` on every publish), that key is the device's. Anything else is dropped without a reply
  and counted (``XyteMessagesDropped``).
- A device's message with an MQTT 5 response topic under its own ``v1/device/{id}/`` gets the result's
  JSON there (or ``error_body`` for a refused message), with its correlation data; a response topic a
  rule listens on is never used, so a device cannot make the backend loop.
- Bad payloads never raise out of the function (``fleetgate.endpoint.serve_message``).
"""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects.xyte import error_body
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.endpoint import Result, serve_message
from fleetgate.errors import FleetgateError, Forbidden, InvalidRequest, Unauthorized
from fleetgate.jsonutil import dumps
from fleetgate.mqtt import Message
from fleetgate.observability import logger, metrics
from fleetgate.services import messaging, xyte
from fleetgate.services.xyte import XyteCaller
from fleetgate.settings import get_settings

TOPIC_ROOT = "v1/device"
# Topics a rule listens on: never a reply topic.
DEVICE_TOPICS = frozenset(
    {
        "telemetry",
        "config/update",
        "commands/update",
        "command/update",
        "license/update",
        "update",
        "cloud_settings/update",
        "get",
    }
)

MessageEndpoint = Callable[[Message, XyteCaller], Result]


def handle_message(event: object, endpoint: MessageEndpoint, *, limit: int | None = None) -> None:
    """Run a Xyte message endpoint for the device its topic names (never raises but ``Retryable``)."""

    def checked(message: Message) -> Result:
        return endpoint(message, sender(message))

    serve_message(
        event, checked, reply, refuse, payload_limit=limit or get_settings().device_payload_limit_bytes
    )


def device_topic(topic: str) -> tuple[str, str]:
    """``(device id, topic name)`` of ``v1/device/{id}/{name...}``; ``InvalidRequest`` otherwise."""
    levels = topic.split("/")
    if len(levels) < 4 or "/".join(levels[:2]) != TOPIC_ROOT or not levels[2]:
        raise InvalidRequest(f"Not a Xyte device topic: {topic[:256]}")
    return levels[2], "/".join(levels[3:])


def sender(message: Message) -> XyteCaller:
    """The device that may publish on ``message``'s topic, checked (see the module's rules)."""
    device_id, _ = device_topic(message.topic)
    if message.client_id != device_id:
        _dropped("client id is not the topic's device")
        raise Forbidden(f"Client '{message.client_id}' may not publish for device '{device_id}'")
    keys = [value for key, value in message.user_properties if key == "access_key"]
    if keys:
        try:
            caller = xyte.authenticate(keys[0], device_id)
        except (Unauthorized, Forbidden):
            _dropped("access_key is not the device's")
            raise Forbidden("The message's access_key is not this device's") from None
        if any(key != keys[0] for key in keys):
            _dropped("conflicting access_key properties")
            raise Forbidden("The message carries conflicting access_key properties")
        return caller
    return XyteCaller(_identity(device_id), xyte.record(device_id))


def _identity(device_id: str) -> DeviceIdentity:
    from fleetgate.services import devices  # noqa: PLC0415

    return devices.get(device_id).identity


def _dropped(reason: str) -> None:
    logger.warning("Message dropped", extra={"reason": reason})
    metrics.add_metric(name="XyteMessagesDropped", unit=MetricUnit.Count, value=1)


def reply(message: Message, result: Result) -> None:
    if result.value is not None:
        _publish(message, result.value)


def refuse(message: Message | None, exc: FleetgateError) -> None:
    if message is None or isinstance(exc, Forbidden | Unauthorized):
        return  # unreadable, or not from the device it names: nobody to answer
    _publish(message, error_body(exc))


def reply_topic(message: Message) -> str | None:
    """Where a reply to ``message`` may go, or None."""
    topic = message.response_topic
    if topic is None or message.client_id is None:
        return None
    own = f"{TOPIC_ROOT}/{message.client_id}/"
    name = topic[len(own) :]
    if not topic.startswith(own) or "+" in topic or "#" in topic or not name or name in DEVICE_TOPICS:
        logger.warning("Reply topic refused", extra={"responseTopic": topic[:256]})
        return None
    return topic


def _publish(message: Message, body: object) -> None:
    topic = reply_topic(message)
    if topic is not None:
        messaging.reply(topic, dumps(body).encode(), message.correlation_data)
