"""IoT Core's lifecycle events for ThingsPro gateways: an AWS IoT topic rule on
``$aws/events/presence/+/+`` invokes this function (asynchronously) with the event.

A gateway's connection is recorded if it is newer than what is kept (events may come out of order, or
twice); on a connection, requests it was sent before and never answered are recorded failed, and its
queued requests go out in order, one at a time (``fleetgate.services.thingspro.presence``). Events of
other clients change nothing.
"""

from fleetgate.dialects.thingspro import mqtt
from fleetgate.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> None:
    mqtt.handle(event, mqtt.on_presence)
