"""ThingsPro message groups: an AWS IoT topic rule on ``thingspro/+/messages/#`` invokes this function
(asynchronously) with what a gateway's message group published. ThingsPro's default format becomes one
telemetry series per tag (``<provider>/<source>/<tag>``), any other JSON one value under its topic's
tail, readable through the operator API's telemetry routes (``fleetgate.services.thingspro.ingest``).
"""

from fleetgate.dialects.thingspro import mqtt
from fleetgate.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> None:
    mqtt.handle(event, mqtt.on_messages)
