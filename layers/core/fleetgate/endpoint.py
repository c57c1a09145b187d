"""Transport-neutral endpoints: an endpoint takes a parsed request (an ``HttpRequest``, an MQTT
``Message``) and returns a ``Result``, or raises a ``FleetgateError``. It never builds an API Gateway
response or publishes its own answer: the dialect renders results and maps errors, once for HTTP and
once for MQTT, and the runners here call those renderers.

Invariants:
- ``serve_http`` always returns the dialect's rendering: of the result, or of the ``FleetgateError``
  the request raised (parsing included).
- ``serve_message`` never raises for a bad message: a ``FleetgateError`` other than ``Retryable`` and
  any unexpected exception are logged, counted (``MessagesRejected``) and handed to the dialect's
  ``refuse`` (which may publish its error reply). Only ``Retryable`` propagates, so that AWS retries
  the asynchronous invocation; a message handler must therefore be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from fleetgate.errors import FleetgateError, Retryable
from fleetgate.http import HttpRequest

if TYPE_CHECKING:
    from fleetgate.mqtt import Message


class Outcome(StrEnum):
    DONE = "done"  # carried out; ``value`` is the answer (None: nothing to say)
    NOTHING_YET = "nothing_yet"  # a wait ended with nothing to deliver (a long-poll's timeout)


@dataclass(frozen=True)
class Content:
    """Binary content (an OTA package's bytes) with what a client needs to store it."""

    data: bytes
    content_type: str
    file_name: str | None = None


@dataclass(frozen=True)
class Result:
    """What an endpoint answers: a JSON-able ``value``, or binary ``content``, or nothing yet."""

    value: Any = None
    outcome: Outcome = Outcome.DONE
    content: Content | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # dialect-specific hints (e.g. an HTTP status)


def done(value: Any = None, **extra: Any) -> Result:
    return Result(value=value, extra=extra)


def nothing_yet() -> Result:
    return Result(outcome=Outcome.NOTHING_YET)


def content(data: bytes, content_type: str, file_name: str | None = None) -> Result:
    return Result(content=Content(data, content_type, file_name))


# --------------------------------------------------------------------------- runners
HttpEndpoint = Callable[[HttpRequest], Result]
Render = Callable[[Result], dict[str, Any]]
RenderError = Callable[[FleetgateError], dict[str, Any]]


def serve_http(
    event: dict[str, Any], endpoint: HttpEndpoint, render: Render, render_error: RenderError
) -> dict[str, Any]:
    """An API Gateway (payload 2.0) event through ``endpoint``; the answer as the dialect renders it."""
    try:
        return render(endpoint(HttpRequest.from_event(event)))
    except FleetgateError as exc:
        return render_error(exc)


MessageEndpoint = Callable[["Message"], Result]
Reply = Callable[["Message", Result], None]
Refuse = Callable[["Message | None", FleetgateError], None]


def serve_message(
    event: Any, endpoint: MessageEndpoint, reply: Reply, refuse: Refuse, *, payload_limit: int
) -> None:
    """An IoT topic-rule event through ``endpoint``; ``reply`` sends the result where the dialect
    sends answers, ``refuse`` handles an error (see the module's invariants)."""
    from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415 - only rule functions need it

    from fleetgate.mqtt import Message  # noqa: PLC0415 - HTTP functions never load it
    from fleetgate.observability import logger, metrics  # noqa: PLC0415

    message: Message | None = None
    try:
        message = Message.from_rule_event(event, payload_limit=payload_limit)
        result = endpoint(message)
    except Retryable:
        logger.warning("Transient failure: the message will be retried", exc_info=True)
        raise
    except FleetgateError as exc:
        error = exc
        logger.warning(
            "Message refused",
            extra={"code": exc.code, "reason": exc.message, "topic": message.topic if message else None},
        )
    except Exception:  # noqa: BLE001 - a bad message must never make AWS retry it
        logger.exception("Message failed unexpectedly")
        error = FleetgateError("The message could not be processed")  # a 500: InternalFailure
    else:
        try:
            reply(message, result)
        except Exception:  # noqa: BLE001 - the work is done (and idempotent); a lost reply is only logged
            logger.exception("The reply could not be sent")
            metrics.add_metric(name="RepliesFailed", unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name="MessagesRejected", unit=MetricUnit.Count, value=1)
    try:
        refuse(message, error)
    except Exception:  # noqa: BLE001 - an error reply that fails is only logged
        logger.exception("The error reply could not be sent")
