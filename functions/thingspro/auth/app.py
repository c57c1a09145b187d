"""ThingsPro's sign-in, per gateway: ``POST /thingspro/gateways/{gateway_id}/api/v1/auth`` with
``{"name", "password", "acceptEULA"}`` (an operator's name and password) answers
``{"data": {"token", "user"}}``; ``GET`` with the token answers ``{"data": "ok"}`` while it is valid.
"""

from aws_lambda_powertools.logging import correlation_paths

from fleetgate.dialects import thingspro
from fleetgate.observability import logger


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: object) -> dict:
    return thingspro.handle_auth(event)
