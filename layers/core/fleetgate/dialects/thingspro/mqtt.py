"""The ThingsPro dialect over MQTT: the topic-rule functions of gateways' answers and of IoT Core's
lifecycle events. Neither ever replies: ThingsPro's MQTT client speaks MQTT 3.1.1 and expects nothing
back on its response topic.

- Answers on ``thingspro/{gateway id}/api/response`` are accepted only from the gateway the topic names
  (its client id); anything else is dropped and counted (``ThingsProAnswersDropped``). The payload is
  Moxa's ``{"request-id", "state", "payload"}``; secrets in it are masked before anything is stored.
- Message groups' publications on ``thingspro/{gateway id}/messages/…`` (the same sender rule) are kept
  as telemetry: ThingsPro's default format as one series per tag, any other JSON as one value.
- Lifecycle events (``$aws/events/presence/{connected|disconnected}/{client id}``) of clients that are
  not gateways change nothing (one read).
- Bad payloads never raise out of the function (``fleetgate.endpoint.serve_message``).
"""

from __future__ import annotations

from fleetgate import clock
from fleetgate.domain import thingspro as tpe
from fleetgate.endpoint import Result, done, serve_message
from fleetgate.errors import FleetgateError, Forbidden, InvalidRequest
from fleetgate.mqtt import Message
from fleetgate.observability import metrics
from fleetgate.services import thingspro as service
from fleetgate.settings import get_settings

PRESENCE_ROOT = "$aws/events/presence/"


def handle(event: object, endpoint: object) -> None:
    serve_message(
        event,
        endpoint,  # type: ignore[arg-type]
        lambda message, result: None,
        lambda message, error: None,
        payload_limit=get_settings().device_payload_limit_bytes,
    )


def answer_topic(topic: str) -> str:
    """The gateway id of ``thingspro/{id}/api/response``; ``InvalidRequest`` otherwise."""
    levels = topic.split("/")
    if len(levels) != 4 or levels[0] != tpe.TOPIC_ROOT or levels[2:] != ["api", "response"] or not levels[1]:
        raise InvalidRequest(f"Not a ThingsPro answer topic: {topic[:256]}")
    return levels[1]


def on_answer(message: Message) -> Result:
    gateway_id = answer_topic(message.topic)
    if message.client_id != gateway_id:
        metrics.add_metric(name="ThingsProAnswersDropped", unit="Count", value=1)
        raise Forbidden(f"Client '{message.client_id}' may not answer for gateway '{gateway_id}'")
    recorded = service.answered(gateway_id, message.payload, tpe.mask)
    return done(None if recorded is None else {"requestId": recorded.seq, "state": recorded.state.value})


def on_messages(message: Message) -> Result:
    """A message group's publication, kept as telemetry (``fleetgate.services.thingspro.ingest``)."""
    levels = message.topic.split("/")
    if len(levels) < 4 or levels[0] != tpe.TOPIC_ROOT or levels[2] != "messages" or not levels[1]:
        raise InvalidRequest(f"Not a ThingsPro message topic: {message.topic[:256]}")
    if message.client_id != levels[1]:
        metrics.add_metric(name="ThingsProMessagesDropped", unit="Count", value=1)
        raise Forbidden(f"Client '{message.client_id}' may not publish for gateway '{levels[1]}'")
    received = message.timestamp_ms if message.timestamp_ms is not None else clock.now_ms()
    written = service.ingest(levels[1], message.topic, message.payload, received)
    metrics.add_metric(name="ThingsProMessagesIngested", unit="Count", value=1)
    return done({"timestamps": written})


def on_presence(message: Message) -> Result:
    if not message.topic.startswith(PRESENCE_ROOT):
        raise InvalidRequest("Not a lifecycle event")
    try:
        event = message.json()
    except FleetgateError:
        raise InvalidRequest("A lifecycle event is JSON") from None
    return done({"recorded": service.presence(event)})
