"""Xyte license answers over MQTT 5: ``v1/device/{id}/license/update`` with ``{id?, state:
inuse|removed|error, error?}`` and the license id as correlation data (``id``, when also given, must
agree). Same use case as ``POST /v1/devices/{device_id}/licenses``. With a response topic under the
device's own topics, the device gets ``{id, state}`` (or the error body) there. Refused and dropped
messages are counted and never raised.
"""

from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects.xyte import mqtt
from fleetgate.dialects.xyte.sync import parse_license_update
from fleetgate.endpoint import Result, done
from fleetgate.errors import InvalidRequest
from fleetgate.mqtt import Message
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_sync
from fleetgate.services.xyte import XyteCaller


def on_license_update(message: Message, caller: XyteCaller) -> Result:
    if mqtt.device_topic(message.topic)[1] != "license/update":
        raise InvalidRequest("Not a license/update topic")
    license_id, state, error = parse_license_update(message.json(), message.correlation_data, mqtt=True)
    answered = xyte_sync.acknowledge_license(caller.record, license_id, state, error)
    metrics.add_metric(name="XyteLicenseAnswers", unit=MetricUnit.Count, value=1)
    return done({"id": answered.id, "state": answered.state})


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> None:
    mqtt.handle_message(event, on_license_update)
