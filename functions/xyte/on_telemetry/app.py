"""Xyte telemetry over MQTT: the topic rule on ``v1/device/+/telemetry`` invokes this function
(asynchronously) with the message (``fleetgate.mqtt``'s SELECT).

The payload is the HTTPS route's body (``POST /v1/devices/{id}/telemetry``), handled by the same use
case. Only the device the topic names may publish (``dialects.xyte.mqtt.sender``; else dropped and
counted). With an MQTT 5 response topic under the device's own topics, the device gets the telemetry
answer there (or the error body). Without a ``timestamp`` in the payload the values are stamped with
the rule's ``timestamp()`` (the broker's receipt), so a redelivered message (same topic, rule timestamp
and payload) overwrites its own history item instead of adding one.
"""

import hashlib

from aws_lambda_powertools.metrics import MetricUnit

from fleetgate import clock
from fleetgate.dialects.xyte import mqtt, registry
from fleetgate.domain.xyte_registry import parse_telemetry
from fleetgate.endpoint import Result, done
from fleetgate.errors import InvalidRequest
from fleetgate.mqtt import Message
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_registry
from fleetgate.services.xyte import XyteCaller


def message_id(message: Message) -> str | None:
    if message.timestamp_ms is None:
        return None
    return f"{message.topic}|{message.timestamp_ms}|{hashlib.sha256(message.payload).hexdigest()}"


def on_telemetry(message: Message, caller: XyteCaller) -> Result:
    body = message.json() if message.payload.strip() else {}
    if not isinstance(body, dict):
        raise InvalidRequest("The payload must be a JSON object")
    report = parse_telemetry(body, clock.now_ms(), message.timestamp_ms)
    outcome = xyte_registry.report(caller.device_id, caller.record, report, message_id=message_id(message))
    metrics.add_metric(name="XyteTelemetryReports", unit=MetricUnit.Count, value=1)
    return done(registry.telemetry_answer(outcome))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> None:
    mqtt.handle_message(event, on_telemetry)
