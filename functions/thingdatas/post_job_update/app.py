"""ThingDatas ``POST /api/v1/thing-datas/jobs/{jobId}/update`` (AWS IoT Jobs' UpdateJobExecution):
``{"thingName", "status", "statusDetails"?, "expectedVersion"?, "executionNumber"?,
"includeJobExecutionState"?, "includeJobDocument"?, "stepTimeoutInMinutes"?, "clientToken"?}`` →
``{"executionState"?, "jobDocument"?, "timestamp", "clientToken"?}``.

- ``status``: IN_PROGRESS, SUCCEEDED, FAILED or REJECTED (others 400 ``InvalidRequest``).
- 409 ``InvalidStateTransition`` once the execution ended, 409 ``VersionMismatch`` when
  ``expectedVersion`` differs; both bodies carry the current ``executionState``.
- A retry of the update that produced the current state (same ``clientToken`` and fields) gets the
  same 200 answer and changes nothing; ``timestamp`` is the time of that update.
- ``jobDocument`` is the job's JSON object, as in the MQTT API that ThingDatas mirrors.
"""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate import clock
from fleetgate.dialects import thingdatas as td
from fleetgate.dialects.thingdatas import jobs as wire
from fleetgate.domain import jobs as rules
from fleetgate.domain.apikeys import ApiKey
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import jobs


def post_job_update(request: HttpRequest, key: ApiKey) -> Result:
    job_id = rules.check_job_id(request.path_parameters.get("jobId"))
    body = td.json_object(request)
    token = td.client_token(body)
    change = wire.parse_update(body, token)
    thing = td.thing(key, body.get("thingName"))
    execution, document = jobs.update(thing, job_id, change, clock.now_ms())
    answer: dict = {}
    if change.include_state:
        answer["executionState"] = wire.execution_state(execution)
    if document is not None:
        answer["jobDocument"] = document
    metrics.add_metric(name="JobExecutionUpdates", unit=MetricUnit.Count, value=1)
    return td.answer(answer, wire.seconds(execution.last_updated_at), token)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return td.handle(event, post_job_update)
