"""Xyte telemetry on the hub: ``POST /v1/devices/{device_id}/telemetry`` (the device's own key) and
``POST /v1/devices/{device_id}/children/telemetries`` (the parent's key; each child's entry carries
the child's ``access_token``, which must be a child of the parent, else that entry answers
``{"error": "Invalid access token"}``).

A telemetry answers ``{config_version, command, new_licenses, info_version, latest_fw_version,
latest_fw_file_id, space_data_version, success}``: the device compares them and fetches what changed.
"""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate import clock
from fleetgate.dialects import xyte
from fleetgate.dialects.xyte import registry
from fleetgate.domain.xyte_registry import parse_telemetry
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_registry
from fleetgate.services.xyte import XyteCaller

CHILDREN = "POST /v1/devices/{device_id}/children/telemetries"


def post_telemetry(request: HttpRequest, caller: XyteCaller) -> Result:
    report = parse_telemetry(xyte.json_object(request), clock.now_ms())
    outcome = xyte_registry.report(caller.device_id, caller.record, report)
    metrics.add_metric(name="XyteTelemetryReports", unit=MetricUnit.Count, value=1)
    return xyte.ok(registry.telemetry_answer(outcome))


def post_children_telemetries(request: HttpRequest, caller: XyteCaller) -> Result:
    now = clock.now_ms()
    outcomes = xyte_registry.report_children(
        caller, xyte.json_body(request), lambda entry: parse_telemetry(entry, now)
    )
    metrics.add_metric(name="XyteTelemetryReports", unit=MetricUnit.Count, value=len(outcomes))
    return xyte.ok(registry.children_answer(outcomes))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    if event.get("routeKey") == CHILDREN:
        return xyte.handle(event, post_children_telemetries)
    return xyte.handle(event, post_telemetry)
