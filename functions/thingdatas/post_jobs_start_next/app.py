"""ThingDatas ``POST /api/v1/thing-datas/jobs/start-next`` (AWS IoT Jobs'
StartNextPendingJobExecution): ``{"thingName", "statusDetails"?, "stepTimeoutInMinutes"?, "clientToken"?}``
→ ``{"execution": JobExecution, "timestamp", "clientToken"?}``, without ``execution`` when nothing is
pending.

An IN_PROGRESS execution is returned as it is (the request's ``statusDetails`` are not applied), else
the first QUEUED one becomes IN_PROGRESS. ``execution.jobDocument`` is the job's JSON object, as in the
MQTT API that ThingDatas mirrors (AWS's HTTP device API would send a string).
"""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate import clock
from fleetgate.dialects import thingdatas as td
from fleetgate.dialects.thingdatas import jobs as wire
from fleetgate.domain.apikeys import ApiKey
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import jobs


def post_jobs_start_next(request: HttpRequest, key: ApiKey) -> Result:
    body = td.json_object(request)
    token = td.client_token(body)
    start = wire.parse_start_next(body, token)
    thing = td.thing(key, body.get("thingName"))
    now = clock.now_ms()
    found = jobs.start_next(thing, start, now)
    answer: dict = {}
    if found is not None:
        execution, document = found
        answer["execution"] = wire.device_execution(execution, now, document)
        metrics.add_metric(name="JobExecutionsStarted", unit=MetricUnit.Count, value=1)
    return td.answer(answer, wire.seconds(now), token)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return td.handle(event, post_jobs_start_next)
