"""Xyte cloud settings over MQTT: the topic rule on ``v1/device/+/cloud_settings/update`` invokes this
function with the message. The payload is ``{property, value}``, as ``PUT
/v1/devices/{id}/cloud_settings`` takes it (an unknown property is refused: the error body goes to the
response topic when there is one). Setting a value is idempotent, so a redelivery changes nothing.
"""

from fleetgate.dialects.xyte import mqtt
from fleetgate.domain.xyte import stamped
from fleetgate.endpoint import Result, done
from fleetgate.errors import InvalidRequest
from fleetgate.mqtt import Message
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_registry
from fleetgate.services.xyte import XyteCaller


def on_cloud_settings_update(message: Message, caller: XyteCaller) -> Result:
    body = message.json()
    if not isinstance(body, dict):
        raise InvalidRequest("The payload must be a JSON object")
    settings = xyte_registry.set_cloud_setting(caller.device_id, body)
    return done(stamped({"settings": settings, "success": True}, caller.record))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> None:
    mqtt.handle_message(event, on_cloud_settings_update)
