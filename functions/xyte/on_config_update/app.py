"""Xyte ``v1/device/{id}/config/update`` over MQTT 5 (an AWS IoT topic rule invokes this function with
``fleetgate.mqtt``'s SELECT): the device echoes the config it applied, or sends a change of its own.

Same use case as ``POST /v1/devices/{device_id}/config``: the payload is that route's body; its
``version``, when absent, is the one the correlation data names (the server sends the version as text
with each config message). Unchanged: the device's acknowledgement (the applied version is recorded,
nothing else); changed: stored as the next version; older than the server's: refused. With a response
topic under the device's own topics, the device gets ``{version}`` (or the error body) there.
Refused and dropped messages are counted and never raised (``fleetgate.dialects.xyte.mqtt``).
"""

from dataclasses import replace

from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects.xyte import mqtt
from fleetgate.dialects.xyte.sync import config_version_from, parse_config
from fleetgate.domain.xyte import stamped
from fleetgate.endpoint import Result, done
from fleetgate.errors import InvalidRequest
from fleetgate.mqtt import Message
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_sync
from fleetgate.services.xyte import XyteCaller


def on_config_update(message: Message, caller: XyteCaller) -> Result:
    if mqtt.device_topic(message.topic)[1] != "config/update":
        raise InvalidRequest("Not a config/update topic")
    record = caller.record
    change = parse_config(message.json(), record)
    if change.version is None:
        change = replace(change, version=config_version_from(message.correlation_data))
    made = xyte_sync.device_config(record, change)
    metrics.add_metric(name="XyteConfigUpdates", unit=MetricUnit.Count, value=1)
    return done(stamped({"version": made.version}, record))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> None:
    mqtt.handle_message(event, on_config_update)
