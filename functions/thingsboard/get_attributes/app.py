"""ThingsBoard ``GET /api/v1/{token}/attributes?clientKeys=&sharedKeys=``: client and shared attributes;
with neither parameter, all of both; empty scopes are left out."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingsboard as tb
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.endpoint import Result, done
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import attributes


def get_attributes(request: HttpRequest, device: DeviceIdentity) -> Result:
    client_keys = request.query_list("clientKeys")
    shared_keys = request.query_list("sharedKeys")
    shadow = attributes.read(device.id)
    result = {}
    if client_keys is not None or shared_keys is None:
        client = attributes.select(shadow.reported, client_keys)
        if client:
            result["client"] = client
    if shared_keys is not None or client_keys is None:
        shared = attributes.select(shadow.desired, shared_keys)
        if shared:
            result["shared"] = shared
    metrics.add_metric(name="AttributeReads", unit=MetricUnit.Count, value=1)
    return done(result)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return tb.handle(event, get_attributes)
