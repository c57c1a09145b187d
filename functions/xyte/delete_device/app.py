"""Xyte ``DELETE /v1/devices/{device_id}``: the device deletes itself (its own access key). Its key
stops working at once, its state goes, and its Cloud ID or MAC + serial number may register again.
Answers ``{success: true}`` (+ ``device_id`` from model API 1.0.7)."""

from aws_lambda_powertools.logging import correlation_paths

from fleetgate.dialects import xyte
from fleetgate.domain.xyte import stamped
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_registry
from fleetgate.services.xyte import XyteCaller


def delete_device(request: HttpRequest, caller: XyteCaller) -> Result:
    xyte_registry.delete(caller)
    return xyte.ok(stamped({"success": True}, caller.record))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return xyte.handle(event, delete_device)
