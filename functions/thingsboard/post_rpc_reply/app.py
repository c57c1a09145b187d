"""ThingsBoard ``POST /api/v1/{token}/rpc/{requestId}``: the device's reply to server-side RPC
``requestId``. The body is the reply (kept as JSON when it is JSON, else as text). 200 with an empty
body, also when the id is unknown, stale or already answered (nothing is written then, as ThingsBoard
drops such replies); 400 when the id is not an integer or the body is empty; 413 over 64 KiB."""

import re

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingsboard as tb
from fleetgate.dialects.thingsboard import rpc
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.endpoint import Result, done
from fleetgate.errors import InvalidRequest
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics

_INTEGER = re.compile(r"[+-]?\d{1,10}\Z")
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # ThingsBoard's Integer path variable


def request_id(request: HttpRequest) -> int:
    raw = request.path_parameters.get("requestId", "")
    if not _INTEGER.match(raw) or not INT_MIN <= int(raw) <= INT_MAX:
        raise InvalidRequest(f"RPC id must be an integer, got {raw!r}")
    return int(raw)


def post_rpc_reply(request: HttpRequest, device: DeviceIdentity) -> Result:
    rpc_id = request_id(request)
    if not request.body:
        raise InvalidRequest("Required request body is missing")
    if rpc.reply(device.id, rpc_id, request.text()):
        metrics.add_metric(name="RpcReplies", unit=MetricUnit.Count, value=1)
    else:
        logger.info("Reply to an unknown, stale or answered RPC ignored", extra={"rpcId": rpc_id})
    return done()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return tb.handle(event, post_rpc_reply)
