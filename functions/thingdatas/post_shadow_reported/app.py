"""ThingDatas ``POST /api/v1/thing-datas/shadow/reported[?name=<shadow>]``: a device reports its state.

AWS ``UpdateThingShadow`` restricted to ``state.reported``; the answer is AWS's ``/update/accepted``
document. ``version`` 0 or absent means no version check (Fleets: "0 auto-increments"). Every accepted
report is also kept in the shadow's history, in the same transaction.
"""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingdatas as td
from fleetgate.domain.apikeys import ApiKey
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import shadows


def post_shadow_reported(request: HttpRequest, key: ApiKey) -> Result:
    body = td.json_object(request)
    name = shadows.shadow_name(request.query.get("name"))
    report = shadows.parse_report(body)  # every rule that needs no I/O comes first
    thing = td.thing(key, body.get("thingName"))
    _, accepted = shadows.update(thing.id, name, report, source="thingdatas")
    metrics.add_metric(name="ShadowReports", unit=MetricUnit.Count, value=1)
    return td.ok(accepted)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return td.handle(event, post_shadow_reported)
