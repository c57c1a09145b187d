"""ThingsBoard ``GET /api/v1/{token}/rpc?timeout=<ms>``: long-poll for server-side RPCs. 200 with
``{"id", "method", "params"}``, 408 with an empty body when there is none in time.

The first open RPC in id order is delivered: a queued one, or a two-way one delivered before and not
answered yet (re-delivered until answered or expired, as ThingsBoard does). Unlike ThingsBoard, an RPC
sent while no poll was waiting is kept until a poll takes it; an expired one is never delivered."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingsboard as tb
from fleetgate.dialects.thingsboard import rpc
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.endpoint import Result, done, nothing_yet
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import longpoll


def get_rpc(request: HttpRequest, device: DeviceIdentity) -> Result:
    seconds = longpoll.wait_seconds(tb.timeout_ms(request))
    command = longpoll.poll(lambda: rpc.next_for_device(device.id), device.queues.get("rpc"), seconds)
    if command is None:
        return nothing_yet()
    metrics.add_metric(name="RpcDelivered", unit=MetricUnit.Count, value=1)
    return done(command)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return tb.handle(event, get_rpc)
