"""Xyte's sync topic over MQTT 5: ``v1/device/{id}/get`` (any payload, an empty one included) re-publishes
what waits for the device: its space info, its config unless acknowledged, the oldest command it has not
reported on, its unanswered license changes and a firmware notice when its model has newer firmware
(``fleetgate.services.xyte_get``). With a response topic under the device's own topics it also gets
``{space_info, config, command, licenses, firmware}``: what was sent. Only transient failures raise.
"""

from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects.xyte import mqtt
from fleetgate.dialects.xyte.registry import space_view
from fleetgate.endpoint import Result, done
from fleetgate.errors import InvalidRequest
from fleetgate.jsonutil import dumps
from fleetgate.mqtt import Message
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_get
from fleetgate.services.xyte import XyteCaller


def on_get(message: Message, caller: XyteCaller) -> Result:
    if mqtt.device_topic(message.topic)[1] != "get":
        raise InvalidRequest("Not a get topic")
    resent = xyte_get.republish(
        caller.record, lambda space, record: dumps(space_view(space, record)).encode()
    )
    metrics.add_metric(name="XyteSyncRequests", unit=MetricUnit.Count, value=1)
    return done(
        {
            "space_info": resent.space_info,
            "config": resent.config,
            "command": resent.command,
            "licenses": resent.licenses,
            "firmware": resent.firmware,
        }
    )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> None:
    mqtt.handle_message(event, on_get)
