"""ThingDatas' jobs vocabulary (AWS IoT Jobs' device API shapes, as the MQTT jobs API that ThingDatas
mirrors has them): request bodies parsed into the domain's ``StartNextRequest``, ``DescribeRequest`` and
``UpdateRequest``, and executions rendered as ``JobExecutionSummary``, ``JobExecutionState`` and
``JobExecution`` (times in epoch seconds). The rules themselves are in ``fleetgate.domain.jobs``.

Invariant: every parser raises ``InvalidRequest`` naming the field for any body it cannot read, before
any I/O; renderers take domain objects only and do no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetgate.domain.jobs import (
    CLEAR_STEP_TIMER,
    DETAIL_KEY_PATTERN,
    DEVICE_STATUSES,
    MAX_DETAIL_VALUE,
    MAX_STATUS_DETAILS,
    MAX_TIMEOUT_MINUTES,
    DescribeRequest,
    Execution,
    ExecutionStatus,
    StartNextRequest,
    UpdateRequest,
    has_control,
)
from fleetgate.errors import InvalidRequest
from fleetgate.jsonutil import integer


# --------------------------------------------------------------------------- requests
def parse_start_next(body: Mapping[str, Any], client_token: str | None) -> StartNextRequest:
    return StartNextRequest(
        status_details=parse_status_details(body.get("statusDetails")),
        step_timeout=parse_step_timeout(body.get("stepTimeoutInMinutes"), allow_clear=False),
        client_token=client_token,
    )


def parse_describe(body: Mapping[str, Any], client_token: str | None) -> DescribeRequest:
    return DescribeRequest(
        execution_number=_positive(body, "executionNumber"),
        include_document=_flag(body, "includeJobDocument", default=True),
        client_token=client_token,
    )


def parse_update(body: Mapping[str, Any], client_token: str | None) -> UpdateRequest:
    raw = body.get("status")
    if raw is None:
        raise InvalidRequest("status is required")
    if not isinstance(raw, str) or raw not in ExecutionStatus.__members__:
        raise InvalidRequest("status must be IN_PROGRESS, SUCCEEDED, FAILED or REJECTED")
    status = ExecutionStatus(raw)
    if status not in DEVICE_STATUSES:
        raise InvalidRequest(
            f"A device may not set status {status}: only IN_PROGRESS, SUCCEEDED, FAILED or REJECTED"
        )
    return UpdateRequest(
        status=status,
        status_details=parse_status_details(body.get("statusDetails")),
        expected_version=_positive(body, "expectedVersion"),
        execution_number=_positive(body, "executionNumber"),
        include_state=_flag(body, "includeJobExecutionState", default=False),
        include_document=_flag(body, "includeJobDocument", default=False),
        step_timeout=parse_step_timeout(body.get("stepTimeoutInMinutes"), allow_clear=True),
        client_token=client_token,
    )


def parse_status_details(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("statusDetails must be an object of string values")
    if len(value) > MAX_STATUS_DETAILS:
        raise InvalidRequest(f"statusDetails may hold at most {MAX_STATUS_DETAILS} name/value pairs")
    for key, item in value.items():
        if not DETAIL_KEY_PATTERN.match(key):
            raise InvalidRequest(
                f"statusDetails: name '{key[:128]}' must be 1-128 characters of letters, digits, "
                "':', '_' or '-'"
            )
        if not isinstance(item, str) or not 1 <= len(item) <= MAX_DETAIL_VALUE or has_control(item):
            raise InvalidRequest(
                f"statusDetails: the value of '{key}' must be a string of 1-{MAX_DETAIL_VALUE} characters "
                "without control characters"
            )
    return dict(value)


def parse_step_timeout(value: Any, *, allow_clear: bool) -> int | None:
    if value is None:
        return None
    minutes = integer(value)
    if allow_clear and minutes == CLEAR_STEP_TIMER:
        return CLEAR_STEP_TIMER
    if minutes is None or not 1 <= minutes <= MAX_TIMEOUT_MINUTES:
        clear = " (or -1 to clear the step timer)" if allow_clear else ""
        raise InvalidRequest(
            f"stepTimeoutInMinutes must be an integer from 1 to {MAX_TIMEOUT_MINUTES}{clear}"
        )
    return minutes


def _positive(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    number = integer(value)
    if number is None or number < 1:
        raise InvalidRequest(f"{name} must be a positive integer")
    return number


def _flag(body: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false")
    return value


# --------------------------------------------------------------------------- answers
def seconds(epoch_ms: int) -> int:
    return epoch_ms // 1000


def summary(execution: Execution) -> dict[str, Any]:
    """A JobExecutionSummary (``jobs/get``); its list tells its status."""
    out: dict[str, Any] = {"jobId": execution.job_id, "queuedAt": seconds(execution.queued_at)}
    if execution.started_at is not None:
        out["startedAt"] = seconds(execution.started_at)
    out.update(
        lastUpdatedAt=seconds(execution.last_updated_at),
        versionNumber=execution.version,
        executionNumber=execution.execution_number,
    )
    return out


def execution_state(execution: Execution) -> dict[str, Any]:
    """A JobExecutionState (``update`` answers and the 409 error bodies)."""
    out: dict[str, Any] = {"status": execution.status.value}
    if execution.status_details:
        out["statusDetails"] = dict(execution.status_details)
    out["versionNumber"] = execution.version
    return out


def device_execution(execution: Execution, now: int, document: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JobExecution (``start-next``, ``{jobId}/get``). ``jobDocument`` is the job's JSON object (as in
    the MQTT jobs API, which ThingDatas mirrors), present when ``document`` is given."""
    out: dict[str, Any] = {
        "jobId": execution.job_id,
        "thingName": execution.thing.name,
        "status": execution.status.value,
    }
    if execution.status_details:
        out["statusDetails"] = dict(execution.status_details)
    out["queuedAt"] = seconds(execution.queued_at)
    if execution.started_at is not None:
        out["startedAt"] = seconds(execution.started_at)
    out["lastUpdatedAt"] = seconds(execution.last_updated_at)
    deadline = execution.deadline
    if deadline is not None:
        out["approximateSecondsBeforeTimedOut"] = max(0, -(-(deadline - now) // 1000))
    out["versionNumber"] = execution.version
    out["executionNumber"] = execution.execution_number
    if document is not None:
        out["jobDocument"] = dict(document)
    return out
