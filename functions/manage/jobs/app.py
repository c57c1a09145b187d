"""Operator API: ThingDatas jobs (``/manage/v1/jobs``), AWS IoT Jobs semantics (rules in
``fleetgate.domain.jobs``); errors are mapped once by ``fleetgate.dialects.manage``.

- ``POST /manage/v1/jobs`` ``{"jobId"?, "description"?, "document", "targets": {"thingNames"?,
  "thingGroupNames"?}, "targetSelection"?, "jobExecutionsRolloutConfig"?, "abortConfig"?,
  "timeoutConfig"?}`` → 201 with the job; one QUEUED execution per target thing. 404 for an unknown
  thing or group, 409 for a jobId in use; nothing is written then.
- ``GET /manage/v1/jobs`` (newest first, ``limit``/``nextToken``), ``GET /manage/v1/jobs/{jobId}``:
  configuration, ``status`` (IN_PROGRESS, COMPLETED, CANCELED), ``reasonCode``/``comment`` and
  ``executionCounts`` per execution status; time-outs that are due are recorded first.
- ``POST /manage/v1/jobs/{jobId}/cancel`` ``{"force"?, "reasonCode"?, "comment"?}``: QUEUED executions
  (with ``force`` also IN_PROGRESS ones) become CANCELED; 409 for a COMPLETED job.
- ``GET /manage/v1/jobs/{jobId}/executions`` (``status``, ``limit``, ``nextToken``): by thing name.
"""

from decimal import Decimal
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate import clock
from fleetgate.clock import iso_utc
from fleetgate.contracts.manage_requests import CancelJobRequest, CreateJobRequest
from fleetgate.dialects import manage
from fleetgate.domain import jobs as rules
from fleetgate.domain.jobs import Execution, ExecutionStatus, Job
from fleetgate.observability import logger, metrics
from fleetgate.services import jobs

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def render_job(job: Job, *, document: bool = True) -> dict[str, Any]:
    spec = job.spec
    out: dict[str, Any] = {"jobId": job.id}
    if spec.description is not None:
        out["description"] = spec.description
    out.update(
        status=job.status.value,
        targetSelection=spec.target_selection.value,
        targets={"thingNames": list(spec.thing_names), "thingGroupNames": list(spec.group_names)},
    )
    if document:
        out["document"] = spec.document
    if spec.maximum_per_minute is not None:
        out["jobExecutionsRolloutConfig"] = {"maximumPerMinute": spec.maximum_per_minute}
    if spec.abort_criteria:
        out["abortConfig"] = {
            "criteriaList": [
                {
                    "failureType": c.failure_type.value,
                    "action": "CANCEL",
                    "thresholdPercentage": _number(c.threshold_percentage),
                    "minNumberOfExecutedThings": c.min_executed_things,
                }
                for c in spec.abort_criteria
            ]
        }
    if spec.in_progress_timeout_minutes is not None:
        out["timeoutConfig"] = {"inProgressTimeoutInMinutes": spec.in_progress_timeout_minutes}
    out["createdAt"] = iso_utc(job.created_at, milliseconds=True)
    out["lastUpdatedAt"] = iso_utc(job.last_updated_at, milliseconds=True)
    if job.completed_at is not None:
        out["completedAt"] = iso_utc(job.completed_at, milliseconds=True)
    if job.reason_code is not None:
        out["reasonCode"] = job.reason_code
    if job.comment is not None:
        out["comment"] = job.comment
    if job.force_canceled:
        out["forceCanceled"] = True
    out["executionCounts"] = {status.value: job.counts.get(status, 0) for status in ExecutionStatus}
    return out


def render_execution(execution: Execution, now: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "jobId": execution.job_id,
        "thingName": execution.thing.name,
        "deviceId": execution.thing.id,
        "status": execution.status.value,
        "statusDetails": dict(execution.status_details),
        "queuedAt": iso_utc(execution.queued_at, milliseconds=True),
    }
    if execution.started_at is not None:
        out["startedAt"] = iso_utc(execution.started_at, milliseconds=True)
    out["lastUpdatedAt"] = iso_utc(execution.last_updated_at, milliseconds=True)
    deadline = execution.deadline
    if deadline is not None:
        out["approximateSecondsBeforeTimedOut"] = max(0, -(-(deadline - now) // 1000))
    out.update(
        versionNumber=execution.version,
        executionNumber=execution.execution_number,
        targetedDirectly=execution.direct,
        thingGroupNames=sorted(execution.groups),
    )
    return out


@app.post("/manage/v1/jobs")
def create_job() -> Response:
    body = manage.parse_body(app, CreateJobRequest)
    criteria = None
    if body.abortConfig is not None:
        criteria = [
            rules.abort_criterion(
                failure_type=c.failureType,
                action=c.action,
                threshold_percentage=c.thresholdPercentage,
                min_executed_things=c.minNumberOfExecutedThings,
            )
            for c in body.abortConfig.criteriaList
        ]
    spec = rules.job_spec(
        job_id=body.jobId,
        document=body.document,
        thing_names=body.targets.thingNames,
        group_names=body.targets.thingGroupNames,
        target_selection=body.targetSelection,
        description=body.description,
        maximum_per_minute=(
            body.jobExecutionsRolloutConfig.maximumPerMinute if body.jobExecutionsRolloutConfig else None
        ),
        abort_criteria=criteria,
        in_progress_timeout_minutes=(
            body.timeoutConfig.inProgressTimeoutInMinutes if body.timeoutConfig else None
        ),
    )
    job = jobs.create(spec)
    metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
    return manage.envelope(render_job(job), status=201)


@app.get("/manage/v1/jobs")
def list_jobs() -> Response:
    page, next_token = jobs.list_page(*manage.page_query(app))
    return manage.page([render_job(j, document=False) for j in page], next_token)


@app.get("/manage/v1/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    return manage.envelope(render_job(jobs.get(job_id)))


@app.post("/manage/v1/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    body = manage.parse_body(app, CancelJobRequest, optional=True)
    job = jobs.cancel(job_id, force=body.force, reason_code=body.reasonCode, comment=body.comment)
    return manage.envelope(render_job(job))


@app.get("/manage/v1/jobs/<job_id>/executions")
def list_job_executions(job_id: str) -> Response:
    limit, token = manage.page_query(app)
    now = clock.now_ms()
    status = app.current_event.get_query_string_value("status")
    page, next_token = jobs.executions_page(job_id, status, limit, token, now)
    return manage.page([render_execution(e, now) for e in page], next_token)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
