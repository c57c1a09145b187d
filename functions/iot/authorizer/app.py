"""MQTT devices: the AWS IoT custom authorizer of the MQTT endpoint (its domain configuration's default).

IoT Core calls it synchronously at every CONNECT (and at every policy refresh) with the device's MQTT
username (its id), password (its access token, base64) and client id; it answers allowed, with the
device's own topics as policy documents, or denied (``fleetgate.services.mqtt_auth``). It never raises:
a bad or unknown credential is a denial, logged with its reason (never the password) and counted
(``MqttConnectionsDenied``; ``MqttConnectionsAllowed`` for the others).
"""

from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.observability import logger, metrics
from fleetgate.services import mqtt_auth


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    decision = mqtt_auth.authorize(event, getattr(context, "invoked_function_arn", ""))
    if decision.answer["isAuthenticated"]:
        metrics.add_metric(name="MqttConnectionsAllowed", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="MqttConnectionsDenied", unit=MetricUnit.Count, value=1)
        logger.warning(
            "MQTT connection denied", extra={"reason": decision.reason, "deviceId": decision.device_id}
        )
    return decision.answer
