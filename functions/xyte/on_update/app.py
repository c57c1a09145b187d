"""Xyte Update Device over MQTT: the topic rule on ``v1/device/+/update`` invokes this function with
the message. The payload is ``{firmware_version?, name?, ...}`` (the 2022 agent's ``firmwareVersion``
is read as ``firmware_version``), applied by the same use case and rate limit as ``PUT
/v1/devices/{id}``: over the limit the message is dropped, counted (``XyteUpdatesRefused``) and, with a
response topic, answered with the 429's error body. The call's time is the rule's timestamp, so a
redelivered message changes nothing.
"""

from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects.xyte import mqtt, registry
from fleetgate.endpoint import Result, done
from fleetgate.errors import InvalidRequest, TooManyRequests
from fleetgate.mqtt import Message
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_registry
from fleetgate.services.xyte import XyteCaller


def on_update(message: Message, caller: XyteCaller) -> Result:
    body = message.json()
    if not isinstance(body, dict):
        raise InvalidRequest("The payload must be a JSON object")
    try:
        record = xyte_registry.update_device(caller.device_id, body, aliases=True, at_ms=message.timestamp_ms)
    except TooManyRequests:
        metrics.add_metric(name="XyteUpdatesRefused", unit=MetricUnit.Count, value=1)
        raise
    return done(registry.updated(record))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> None:
    mqtt.handle_message(event, on_update)
