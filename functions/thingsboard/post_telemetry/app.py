"""ThingsBoard ``POST /api/v1/{token}/telemetry``: an object, ``{"ts", "values"}`` or an array of
either; one DynamoDB item per distinct timestamp."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingsboard as tb
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.endpoint import Result, done
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import telemetry


def post_telemetry(request: HttpRequest, device: DeviceIdentity) -> Result:
    records = tb.parse_telemetry(tb.json_body(request))
    written = telemetry.record(device.id, records)
    metrics.add_metric(name="TelemetryTimestamps", unit=MetricUnit.Count, value=written)
    return done()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return tb.handle(event, post_telemetry)
