"""Operator API: server-side RPC to a device (``/manage/v1/devices/{id}/rpc``). The routes live in
``rpc_routes``; errors are mapped once by ``fleetgate.dialects.manage``."""

import rpc_routes
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths

from fleetgate.dialects import manage
from fleetgate.observability import logger, metrics

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)
app.include_router(rpc_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
