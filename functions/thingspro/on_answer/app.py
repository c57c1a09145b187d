"""ThingsPro gateways' remote-API answers: an AWS IoT topic rule on ``thingspro/+/api/response``
invokes this function (asynchronously) with the message (``fleetgate.mqtt``'s SELECT).

The answer ``{"request-id", "state", "payload"}`` ends its request (``fleetgate.services.thingspro
.answered``); a successful one becomes the confirmed read of the path the request named, and the next
queued request goes to the gateway. An answer that matches no request awaiting one is dropped and
counted; one from another client than the topic's gateway is dropped too (``fleetgate.dialects
.thingspro.mqtt``).
"""

from fleetgate.dialects.thingspro import mqtt
from fleetgate.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> None:
    mqtt.handle(event, mqtt.on_answer)
