"""ThingsBoard ``POST /api/v1/{token}/rpc`` with ``{"method", "params"}``: client-side RPC.

200 with the answer's JSON: a built-in method's (``getCurrentTime`` → ``{"time": <epoch ms>}``) or the
deployer's handler function's. Errors are JSON ``{"error": ...}``: 404 for an unknown method when no
handler is configured, 502 when the handler fails, 504 ``{"error": "timeout"}`` when it does not answer
in time. A body that is not ``{"method": <string>, "params"?: <any>}`` is a 400; over 64 KiB a 413."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingsboard as tb
from fleetgate.dialects.thingsboard.rpc import MAX_METHOD
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.endpoint import Result, done
from fleetgate.errors import InvalidRequest
from fleetgate.http import HttpRequest
from fleetgate.jsonutil import NumberLiteral, dumps, plain
from fleetgate.observability import logger, metrics
from fleetgate.services import client_rpc


def parse_call(payload: object) -> tuple[str, object]:
    """``(method, params)`` from the body; ``params`` defaults to ``{}`` as the SDK sends it."""
    if not isinstance(payload, dict):
        raise InvalidRequest(f"Can't parse value: {dumps(plain(payload))}")
    method = payload.get("method")
    if not isinstance(method, str) or isinstance(method, NumberLiteral) or not 1 <= len(method) <= MAX_METHOD:
        raise InvalidRequest(f"method must be a string of 1-{MAX_METHOD} characters")
    return method, plain(payload.get("params", {}))


def post_client_rpc(request: HttpRequest, device: DeviceIdentity) -> Result:
    method, params = parse_call(tb.json_body(request))
    answer = client_rpc.call(device, method, params)
    metrics.add_metric(name="ClientRpcCalls", unit=MetricUnit.Count, value=1)
    return done(answer)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return tb.handle(event, post_client_rpc)
