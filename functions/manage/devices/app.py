"""Operator API: devices and credentials, their telemetry and their attributes (``/manage/v1/devices``).
The routes live in one router per resource; errors are mapped once by ``fleetgate.dialects.manage``."""

import attribute_routes
import claim_routes
import device_routes
import telemetry_routes
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths

from fleetgate.dialects import manage
from fleetgate.observability import logger, metrics

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)
app.include_router(device_routes.router)
app.include_router(telemetry_routes.router)
app.include_router(attribute_routes.router)
app.include_router(claim_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
