"""ThingDatas ``POST /api/v1/thing-datas/jobs/{jobId}/get`` (AWS IoT Jobs' DescribeJobExecution):
``{"thingName", "executionNumber"?, "includeJobDocument"? (default true), "clientToken"?}`` →
``{"execution": JobExecution, "timestamp", "clientToken"?}``.

``jobId`` may be ``$next``: the execution ``start-next`` would return, without starting it (no
``execution`` when nothing is pending). 404 ``ResourceNotFound`` for a job the thing has no execution of
(or not yet, during a rollout) or another ``executionNumber``. ``jobDocument`` is a JSON object, as in
the MQTT API that ThingDatas mirrors.
"""

from aws_lambda_powertools.logging import correlation_paths

from fleetgate import clock
from fleetgate.dialects import thingdatas as td
from fleetgate.dialects.thingdatas import jobs as wire
from fleetgate.domain import jobs as rules
from fleetgate.domain.apikeys import ApiKey
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import jobs


def post_job_get(request: HttpRequest, key: ApiKey) -> Result:
    job_id = rules.check_job_id(request.path_parameters.get("jobId"), allow_next=True)
    body = td.json_object(request)
    token = td.client_token(body)
    describe = wire.parse_describe(body, token)
    thing = td.thing(key, body.get("thingName"))
    now = clock.now_ms()
    found = jobs.describe(thing, job_id, describe, now)
    answer: dict = {}
    if found is not None:
        execution, document = found
        answer["execution"] = wire.device_execution(execution, now, document)
    return td.answer(answer, wire.seconds(now), token)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return td.handle(event, post_job_get)
