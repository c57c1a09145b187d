"""The EMQX Fleets ThingDatas device API (``/api/v1/thing-datas/...``): what the parsers of
``fleetgate.dialects.thingdatas`` accept and what its handlers answer.

Every route authenticates with HTTP Basic (deployment API key id and secret), whose permissions must
cover the method and path; a key limited to some things may touch only those (403). Bodies are strict
JSON objects. Every error has one body, ``{"code", "message", ...}`` (``thingdatas.error_body``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from fleetgate.contracts.gateway import GATEWAY
from fleetgate.contracts.spec import Answer, Body, Operation, Parameter, header, model, path, query
from fleetgate.domain.events import MIN_TIMESTAMP_MS
from fleetgate.domain.jobs import MAX_DETAIL_VALUE, MAX_STATUS_DETAILS, MAX_TIMEOUT_MINUTES

TAG = "ThingDatas"
SECURITY: tuple[dict[str, list[str]], ...] = ({"thingDatasBasic": []},)
THING_NAME_PATTERN = r"^[a-zA-Z0-9:_-]{1,128}$"  # fleetgate.domain.devices.NAME_PATTERN
SHADOW_NAME_PATTERN = r"^[a-zA-Z0-9:_-]{1,64}$"  # fleetgate.services.shadows.SHADOW_NAME
JOB_ID_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"  # fleetgate.domain.jobs.JOB_ID_PATTERN
UUID_PATTERN = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
MAX_CLIENT_TOKEN = 64

ThingName = Annotated[str, Field(pattern=THING_NAME_PATTERN, description="a device of the registry")]
ClientToken = Annotated[
    str | None,
    Field(default=None, min_length=1, max_length=MAX_CLIENT_TOKEN, description="1-64 bytes, echoed"),
]
StatusDetails = Annotated[
    dict[str, str] | None,
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "object",
                    "maxProperties": MAX_STATUS_DETAILS,
                    "patternProperties": {
                        r"^[a-zA-Z0-9:_-]{1,128}$": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_DETAIL_VALUE,
                            # AWS's [^\p{C}]+: no control (nor format, private-use or unassigned) characters
                            "pattern": r"^[^\x00-\x1f\x7f-\x9f]+$",
                        }
                    },
                    "additionalProperties": False,
                },
                {"type": "null"},
            ],
            "description": "name → value, no control characters (Unicode category C)",
        }
    ),
    Field(default=None),
]


# --------------------------------------------------------------------------- request bodies
class ReportedState(BaseModel, extra="forbid"):
    reported: dict[str, Any] | None = Field(description="merged into the shadow; null clears it")


class TdShadowReport(BaseModel):
    thingName: ThingName
    state: ReportedState
    version: int | None = Field(default=None, ge=0, description="expected version; 0 or absent: no check")
    clientToken: ClientToken


class TdEventRequest(BaseModel, extra="forbid"):
    thingName: ThingName
    eventType: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    severity: Literal["info", "warn", "error"] | None = Field(default=None, description="default info")
    timestamp: int = Field(ge=MIN_TIMESTAMP_MS, description="Unix ms, from 2000 up to a day ahead")
    data: dict[str, Any] | None = Field(default=None, description="at most 64 KiB as compact JSON")
    appId: str | None = Field(default=None, pattern=r"^[^\x00-\x1f\x7f]{1,128}$")


class TdCommandResponseRequest(BaseModel, extra="forbid"):
    thingName: ThingName
    executionId: str = Field(pattern=UUID_PATTERN, description="a UUID")
    status: Literal["SUCCEEDED", "FAILED", "REJECTED"]
    result: Any = Field(default=None, description="any JSON, at most 64 KiB compact")
    timestamp: int | None = Field(default=None, ge=0, le=10**15 - 1)
    clientToken: ClientToken


class TdPendingJobsRequest(BaseModel):
    thingName: ThingName
    clientToken: ClientToken


class TdStartNextRequest(BaseModel):
    thingName: ThingName
    statusDetails: StatusDetails
    stepTimeoutInMinutes: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_MINUTES)
    clientToken: ClientToken


class TdDescribeJobRequest(BaseModel):
    thingName: ThingName
    executionNumber: int | None = Field(default=None, ge=1)
    includeJobDocument: bool | None = Field(default=None, description="default true")
    clientToken: ClientToken


class TdUpdateJobRequest(BaseModel):
    thingName: ThingName
    status: Literal["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"]
    statusDetails: StatusDetails
    expectedVersion: int | None = Field(default=None, ge=1)
    executionNumber: int | None = Field(default=None, ge=1)
    includeJobExecutionState: bool | None = None
    includeJobDocument: bool | None = None
    stepTimeoutInMinutes: Annotated[
        int | None,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT_MINUTES},
                    {"const": -1},
                    {"type": "null"},
                ],
                "description": "a new step timer; -1 clears it",
            }
        ),
    ] = None
    clientToken: ClientToken


# --------------------------------------------------------------------------- answers
class TdError(BaseModel):
    code: str = Field(examples=["ResourceNotFound"])
    message: str
    version: int | None = Field(default=None, description="the shadow's current version (VersionConflict)")
    executionState: JobExecutionState | None = Field(default=None, description="on a job's 409")


class TdShadow(BaseModel):
    reported: dict[str, Any]
    desired: dict[str, Any]
    delta: dict[str, Any]
    version: int
    updatedAt: str | None = Field(description="ISO-8601 UTC of the last change; null before the first")


class TdShadowAccepted(BaseModel):
    """AWS's ``/update/accepted`` document."""

    state: dict[str, Any]
    metadata: dict[str, Any]
    version: int
    timestamp: int
    clientToken: str | None = None


class TdEventRecorded(BaseModel):
    eventId: str
    thingName: str
    timestamp: int


class TdCommandRecorded(BaseModel):
    thingName: str
    executionId: str
    status: str


class JobExecutionSummary(BaseModel):
    jobId: str
    queuedAt: int
    startedAt: int | None = None
    lastUpdatedAt: int
    versionNumber: int
    executionNumber: int


class JobExecutionState(BaseModel):
    status: str
    statusDetails: dict[str, str] | None = None
    versionNumber: int


class JobExecution(BaseModel):
    jobId: str
    thingName: str
    status: str
    statusDetails: dict[str, str] | None = None
    queuedAt: int
    startedAt: int | None = None
    lastUpdatedAt: int
    approximateSecondsBeforeTimedOut: int | None = None
    versionNumber: int
    executionNumber: int
    jobDocument: dict[str, Any] | None = None


class TdPendingJobs(BaseModel):
    inProgressJobs: list[JobExecutionSummary]
    queuedJobs: list[JobExecutionSummary]
    timestamp: int
    clientToken: str | None = None


class TdJobExecutionAnswer(BaseModel):
    execution: JobExecution | None = Field(default=None, description="absent when nothing is pending")
    timestamp: int
    clientToken: str | None = None


class TdJobUpdateAnswer(BaseModel):
    executionState: JobExecutionState | None = None
    jobDocument: dict[str, Any] | None = None
    timestamp: int
    clientToken: str | None = None


TdError.model_rebuild()


# --------------------------------------------------------------------------- shared pieces
ERROR = model(TdError)
COMMON = (
    Answer(400, "Malformed request: code InvalidRequest", ERROR | GATEWAY, name="TdBadRequest"),
    Answer(
        401,
        "No or wrong Basic credentials: code Unauthorized",
        ERROR,
        {"WWW-Authenticate": header('Basic realm="fleetgate"', required=True)},
        name="TdUnauthorized",
    ),
    Answer(
        403,
        "The key's permissions do not cover this call, or this thing: code Forbidden",
        ERROR,
        name="TdForbidden",
    ),
    Answer(404, "No such thing (or shadow, job, execution): code ResourceNotFound", ERROR, name="TdNotFound"),
    Answer(
        413,
        "Body over the device payload limit: code PayloadTooLarge",
        ERROR | GATEWAY,
        name="TdPayloadTooLarge",
    ),
    Answer(500, "Internal failure: code InternalError", ERROR | GATEWAY, name="TdInternalFailure"),
    Answer(
        503,
        "A transient failure (throttling): code ServiceUnavailable; retry",
        ERROR,
        name="TdServiceUnavailable",
    ),
)
SHADOW_NAME = query(
    "name", {"type": "string", "pattern": SHADOW_NAME_PATTERN}, "a named shadow; absent: classic"
)


def _operation(
    method: str,
    route: str,
    operation_id: str,
    summary: str,
    success: Answer,
    *,
    request: Body | None = None,
    parameters: tuple[Parameter, ...] = (),
    conflict: str = "",
    description: str = "",
) -> Operation:
    answers = [success, *COMMON]
    if conflict:
        answers.append(Answer(409, conflict, ERROR))
    return Operation(
        method=method,
        path=route,
        operation_id=operation_id,
        tag=TAG,
        summary=summary,
        answers=tuple(sorted(answers, key=lambda a: a.status)),
        parameters=parameters,
        request=request,
        security=SECURITY,
        description=description,
    )


OPERATIONS: tuple[Operation, ...] = (
    _operation(
        "POST",
        "/api/v1/thing-datas/shadow/reported",
        "td_post_shadow_reported",
        "Report the thing's state (AWS UpdateThingShadow, reported only)",
        Answer(200, "AWS's /update/accepted document", model(TdShadowAccepted)),
        request=model(TdShadowReport),
        parameters=(SHADOW_NAME,),
        conflict="version differs from the shadow's: code VersionConflict, with the current version",
    ),
    _operation(
        "GET",
        "/api/v1/thing-datas/{thingName}/shadow",
        "td_get_shadow",
        "Read the thing's shadow (never-reported: empty, version 0)",
        Answer(200, "reported, desired, delta, version, updatedAt", model(TdShadow)),
        parameters=(path("thingName", {"type": "string", "pattern": THING_NAME_PATTERN}), SHADOW_NAME),
    ),
    _operation(
        "POST",
        "/api/v1/thing-datas/events",
        "td_post_event",
        "Report an event",
        Answer(200, "The stored event's id", model(TdEventRecorded)),
        request=model(TdEventRequest),
    ),
    _operation(
        "POST",
        "/api/v1/thing-datas/command/response",
        "td_post_command_response",
        "Answer a command received over MQTT",
        Answer(200, "What was recorded", model(TdCommandRecorded)),
        request=model(TdCommandResponseRequest),
        conflict="The execution has ended: code InvalidStateTransition, with its status",
    ),
    _operation(
        "POST",
        "/api/v1/thing-datas/jobs/get",
        "td_post_jobs_get",
        "The thing's pending job executions (GetPendingJobExecutions)",
        Answer(200, "IN_PROGRESS then QUEUED summaries", model(TdPendingJobs)),
        request=model(TdPendingJobsRequest),
    ),
    _operation(
        "POST",
        "/api/v1/thing-datas/jobs/start-next",
        "td_post_jobs_start_next",
        "Start the next pending job execution (StartNextPendingJobExecution)",
        Answer(200, "The execution started (absent when nothing is pending)", model(TdJobExecutionAnswer)),
        request=model(TdStartNextRequest),
    ),
    _operation(
        "POST",
        "/api/v1/thing-datas/jobs/{jobId}/get",
        "td_post_job_get",
        "Describe a job execution ($next: the one start-next would return)",
        Answer(200, "The execution (absent for $next when nothing is pending)", model(TdJobExecutionAnswer)),
        request=model(TdDescribeJobRequest),
        parameters=(
            path(
                "jobId", {"type": "string", "pattern": r"^([a-zA-Z0-9_-]{1,64}|\$next)$"}, "a job id or $next"
            ),
        ),
    ),
    _operation(
        "POST",
        "/api/v1/thing-datas/jobs/{jobId}/update",
        "td_post_job_update",
        "Update a job execution (UpdateJobExecution)",
        Answer(200, "The state and document asked for", model(TdJobUpdateAnswer)),
        request=model(TdUpdateJobRequest),
        parameters=(path("jobId", {"type": "string", "pattern": JOB_ID_PATTERN}),),
        conflict="The execution ended (InvalidStateTransition) or expectedVersion differs (VersionMismatch), "
        "with the current executionState",
    ),
)
