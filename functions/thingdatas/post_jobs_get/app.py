"""ThingDatas ``POST /api/v1/thing-datas/jobs/get``: the thing's pending job executions (AWS IoT Jobs'
GetPendingJobExecutions): ``{"thingName", "clientToken"?}`` →
``{"inProgressJobs": [summary], "queuedJobs": [summary], "timestamp", "clientToken"?}``.

Summaries are ``{jobId, queuedAt, startedAt?, lastUpdatedAt, versionNumber, executionNumber}`` (epoch
seconds): IN_PROGRESS ones first, then QUEUED ones in queue order. Executions not rolled out yet do not
appear; IN_PROGRESS ones past their deadline are recorded TIMED_OUT and left out.
"""

from aws_lambda_powertools.logging import correlation_paths

from fleetgate import clock
from fleetgate.dialects import thingdatas as td
from fleetgate.dialects.thingdatas import jobs as wire
from fleetgate.domain.apikeys import ApiKey
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import jobs


def post_jobs_get(request: HttpRequest, key: ApiKey) -> Result:
    body = td.json_object(request)
    token = td.client_token(body)
    thing = td.thing(key, body.get("thingName"))
    now = clock.now_ms()
    in_progress, queued = jobs.pending(thing, now)
    answer: dict = {
        "inProgressJobs": [wire.summary(e) for e in in_progress],
        "queuedJobs": [wire.summary(e) for e in queued],
    }
    return td.answer(answer, wire.seconds(now), token)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return td.handle(event, post_jobs_get)
