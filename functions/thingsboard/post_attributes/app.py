"""ThingsBoard ``POST /api/v1/{token}/attributes``: client attributes, the reported side of the
device's shadow; concurrent writers never lose an update."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingsboard as tb
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.endpoint import Result, done
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import attributes


def post_attributes(request: HttpRequest, device: DeviceIdentity) -> Result:
    values = tb.parse_attributes(tb.json_body(request))
    if values:
        attributes.report_client(device.id, values)
    metrics.add_metric(name="ClientAttributesWritten", unit=MetricUnit.Count, value=len(values))
    return done()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return tb.handle(event, post_attributes)
