"""Operator API: firmware and software packages (``/manage/v1/ota-packages``) and their assignment to
devices and device profiles (``.../ota``). Errors are mapped once by ``fleetgate.dialects.manage``."""

import ota_assignment_routes
import ota_package_routes
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths

from fleetgate.dialects import manage
from fleetgate.observability import logger, metrics

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)
app.include_router(ota_package_routes.router)
app.include_router(ota_assignment_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
