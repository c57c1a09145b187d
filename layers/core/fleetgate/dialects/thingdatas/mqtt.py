"""ThingDatas over MQTT: topic-rule functions (``functions/thingdatas/on_<topic>/``) run their endpoint
through ``handle_message``; this module alone renders their results and errors as MQTT replies.

- Topics: commands are ``{prefix}/commands/things/{thingName}/executions/{executionId}/request``
  (published by the command use cases) and the device answers on ``…/response``; ``prefix`` is the
  ``CommandTopicPrefix`` setting.
- A message is accepted from the thing its topic names only: its MQTT client id must be that thing's
  name (AWS IoT's convention for thing-bound connections). Endpoints raise ``Forbidden`` otherwise;
  such a message is dropped without a reply (the sender is not the thing whose topic it used).
- Replies go only to the response topic (MQTT 5) of the message, with its correlation data: the
  result's JSON, or ``error_body`` (the HTTP error body) for a refused message. A reply is sent only
  to a topic under the sender's own ``{prefix}/commands/things/{clientId}/`` and never to a topic a
  rule listens on (``…/response``), so a device cannot make the backend publish elsewhere or loop.
"""

from __future__ import annotations

from fleetgate.dialects.thingdatas import error_body
from fleetgate.endpoint import MessageEndpoint, Result, serve_message
from fleetgate.errors import FleetgateError, Forbidden, InvalidRequest
from fleetgate.jsonutil import dumps
from fleetgate.mqtt import Message
from fleetgate.observability import logger
from fleetgate.services import messaging
from fleetgate.settings import get_settings


def handle_message(event: object, endpoint: MessageEndpoint) -> None:
    """Run a ThingDatas message endpoint (never raises but ``Retryable``: see ``fleetgate.endpoint``)."""
    serve_message(event, endpoint, reply, refuse, payload_limit=get_settings().device_payload_limit_bytes)


def command_response_topic(topic: str) -> tuple[str, str]:
    """``(thingName, executionId)`` of ``{prefix}/commands/things/{thingName}/executions/{id}/response``;
    ``InvalidRequest`` for any other topic."""
    prefix = get_settings().command_topic_prefix
    levels = topic.split("/")
    head = prefix.split("/")
    tail = levels[len(head) :]
    if (
        levels[: len(head)] != head
        or len(tail) != 6
        or tail[0] != "commands"
        or tail[1] != "things"
        or tail[3] != "executions"
        or tail[5] != "response"
        or not tail[2]
        or not tail[4]
    ):
        raise InvalidRequest(f"Not a command response topic: {topic[:256]}")
    return tail[2], tail[4]


def check_sender(message: Message, thing_name: str) -> None:
    """The message must come from ``thing_name`` itself (client id = thing name), else ``Forbidden``."""
    if message.client_id != thing_name:
        raise Forbidden(f"Client '{message.client_id}' may not publish for thing '{thing_name}'")


def reply(message: Message, result: Result) -> None:
    if result.value is not None:
        _publish(message, result.value)


def refuse(message: Message | None, exc: FleetgateError) -> None:
    if message is None or isinstance(exc, Forbidden):
        return  # unreadable, or not from the thing it names: nobody to answer
    _publish(message, error_body(exc))


def reply_topic(message: Message) -> str | None:
    """Where a reply to ``message`` may go (see the module's rules), or None."""
    topic = message.response_topic
    if topic is None or message.client_id is None:
        return None
    own = f"{get_settings().command_topic_prefix}/commands/things/{message.client_id}/"
    if not topic.startswith(own) or "+" in topic or "#" in topic or topic.endswith("/response"):
        logger.warning("Reply topic refused", extra={"responseTopic": topic[:256]})
        return None
    return topic


def _publish(message: Message, body: object) -> None:
    topic = reply_topic(message)
    if topic is not None:
        messaging.reply(topic, dumps(body).encode(), message.correlation_data)
