"""ThingDatas commands (cloud → device over MQTT, the answer over MQTT or HTTPS): the lifecycle of one
execution as pure rules, no AWS.

    SENT ──device answers SUCCEEDED / FAILED / REJECTED (before expiresAt)──▶ that status
      ├──expiresAt passes with no answer──▶ TIMED_OUT
      ├──operator cancels (before expiresAt)──▶ CANCELED
      └──the publish to the device's topic fails──▶ FAILED (statusReason says why; no respondedAt)

- Every status but SENT is terminal. An execution is SENT only once its request was published; if the
  publish fails it is FAILED at once, never left SENT.
- ``expiresAt = createdAt + ttl``. A SENT execution past it *is* TIMED_OUT for every reader
  (``effective_status``); the first writer that touches it (a late answer, a cancel) records that.
- A device's answer to a terminal execution is refused (409 ``InvalidStateTransition`` with the current
  ``status``) unless it repeats the answer that completed it: the same ``clientToken``, or, without a
  token, the same status and result. A repeat changes nothing and gets the first answer again, so a
  device may retry an answer whose response it never received.
- ``commandId`` in the payload the device receives equals ``executionId``. Fleets sends both (the
  execution id also in the topic) and documents no separate command resource here: a command is sent
  to one thing, so one id names both, and a device that answers with either id is answered correctly.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from fleetgate.errors import InvalidRequest, InvalidStateTransition, PayloadTooLarge
from fleetgate.jsonutil import dumps

MAX_ACTION = 128
DEFAULT_TTL_S = 30  # Fleets' example payload
MAX_TTL_S = 86_400
MAX_PARAMS_BYTES = 65_536  # the MQTT payload must stay under AWS IoT Core's 128 KB
MAX_RESULT_BYTES = 65_536
MAX_DEVICE_TIMESTAMP = 10**15 - 1
RESPONSE_FIELDS = frozenset({"thingName", "executionId", "status", "result", "timestamp", "clientToken"})


class CommandStatus(StrEnum):
    SENT = "SENT"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    CANCELED = "CANCELED"


DEVICE_STATUSES = frozenset({CommandStatus.SUCCEEDED, CommandStatus.FAILED, CommandStatus.REJECTED})
TERMINAL = frozenset(CommandStatus) - {CommandStatus.SENT}


@dataclass(frozen=True)
class CommandRequest:
    """What an operator asks for, validated; nothing is stored until it is."""

    action: str
    params_json: str  # compact JSON
    ttl: int  # seconds


@dataclass(frozen=True)
class CommandResponse:
    """A device's answer, validated (``thingName`` is the dialect's business)."""

    execution_id: str
    status: CommandStatus
    result_json: str | None  # compact JSON; None when the device sent no result
    device_timestamp: int | None  # as the device sent it (the seed's example is in seconds)
    client_token: str | None


@dataclass(frozen=True)
class Execution:
    device_id: str
    execution_id: str
    thing_name: str
    action: str
    params_json: str
    ttl: int  # seconds
    status: CommandStatus
    created_at: int  # epoch ms
    expires_at: int  # epoch ms: created_at + ttl
    purge_at: int  # epoch seconds: when DynamoDB may delete the record (TTL)
    updated_at: int  # epoch ms: the last recorded change
    result_json: str | None = None
    responded_at: int | None = None  # epoch ms: when the device's answer was recorded
    device_timestamp: int | None = None
    client_token: str | None = None
    status_reason: str | None = None

    @property
    def command_id(self) -> str:
        return self.execution_id

    @property
    def params(self) -> Any:
        return json.loads(self.params_json)

    @property
    def result(self) -> Any:
        return None if self.result_json is None else json.loads(self.result_json)

    def expired(self, now: int) -> bool:
        """A SENT execution whose time to answer has run out."""
        return self.status == CommandStatus.SENT and now >= self.expires_at

    def effective_status(self, now: int) -> CommandStatus:
        """The status as of ``now``: TIMED_OUT once a SENT execution expires, recorded or not."""
        return CommandStatus.TIMED_OUT if self.expired(now) else self.status

    def request_payload(self) -> dict[str, Any]:
        """Fleets' request payload; ``timestamp`` is in seconds, as in Fleets' example."""
        return {
            "commandId": self.command_id,
            "executionId": self.execution_id,
            "action": self.action,
            "params": self.params,
            "timestamp": self.created_at // 1000,
            "ttl": self.ttl,
        }


def request_topic(prefix: str, thing_name: str, execution_id: str) -> str:
    """``{prefix}/commands/things/{thingName}/executions/{executionId}/request`` (Fleets: ``$emqx`` as
    the prefix, which AWS IoT Core reserves)."""
    return f"{prefix}/commands/things/{thing_name}/executions/{execution_id}/request"


def response_topic(prefix: str, thing_name: str, execution_id: str) -> str:
    return f"{prefix}/commands/things/{thing_name}/executions/{execution_id}/response"


# --------------------------------------------------------------------------- requests
def command_request(*, action: Any, params: Any = None, ttl: Any = None) -> CommandRequest:
    """Validate an operator's command. ``params`` absent (or null) means ``{}``; ``ttl`` absent means
    30 seconds."""
    if not isinstance(action, str) or not 1 <= len(action) <= MAX_ACTION:
        raise InvalidRequest(f"action must be a string of 1-{MAX_ACTION} characters")
    if ttl is None:
        ttl = DEFAULT_TTL_S
    elif isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_S:
        raise InvalidRequest(f"ttl must be an integer number of seconds from 1 to {MAX_TTL_S}")
    params_json = dumps({} if params is None else params)
    if len(params_json.encode()) > MAX_PARAMS_BYTES:
        raise PayloadTooLarge(f"params exceed the limit of {MAX_PARAMS_BYTES} bytes (compact JSON)")
    return CommandRequest(action, params_json, ttl)


def new_execution(
    request: CommandRequest,
    *,
    device_id: str,
    thing_name: str,
    execution_id: str,
    now: int,
    retention_days: int,
) -> Execution:
    expires_at = now + request.ttl * 1000
    return Execution(
        device_id=device_id,
        execution_id=execution_id,
        thing_name=thing_name,
        action=request.action,
        params_json=request.params_json,
        ttl=request.ttl,
        status=CommandStatus.SENT,
        created_at=now,
        expires_at=expires_at,
        purge_at=-(-expires_at // 1000) + retention_days * 86_400,
        updated_at=now,
    )


def parse_response(body: dict[str, Any], client_token: str | None) -> CommandResponse:
    """A device's answer ``{"thingName", "executionId", "status", "result"?, "timestamp"?,
    "clientToken"?}``; ``client_token`` was validated by the dialect."""
    unknown = sorted(set(body) - RESPONSE_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown field(s): {', '.join(unknown)}")
    execution_id = checked_execution_id(body.get("executionId"))
    status = body.get("status")
    if status is None:
        raise InvalidRequest("status is required")
    if not isinstance(status, str) or status not in DEVICE_STATUSES:
        raise InvalidRequest("status must be one of SUCCEEDED, FAILED, REJECTED")
    result = body.get("result")
    result_json = None if result is None else dumps(result)
    if result_json is not None and len(result_json.encode()) > MAX_RESULT_BYTES:
        raise PayloadTooLarge(f"result exceeds the limit of {MAX_RESULT_BYTES} bytes (compact JSON)")
    timestamp = body.get("timestamp")
    if timestamp is not None and (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, int)
        or not 0 <= timestamp <= MAX_DEVICE_TIMESTAMP
    ):
        raise InvalidRequest("timestamp must be a non-negative integer")
    return CommandResponse(execution_id, CommandStatus(status), result_json, timestamp, client_token)


def checked_execution_id(value: Any) -> str:
    """An execution id: a UUID, in its canonical lower-case form."""
    if value is None:
        raise InvalidRequest("executionId is required")
    if not isinstance(value, str):
        raise InvalidRequest("executionId must be a UUID")
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise InvalidRequest("executionId must be a UUID") from exc


# --------------------------------------------------------------------------- transitions
def respond(execution: Execution, response: CommandResponse, now: int) -> Execution:
    """The execution after a device's answer. Returns ``execution`` itself (nothing to record) when the
    answer repeats the one that completed it. Raises ``InvalidStateTransition`` (details: the current
    ``status``) when the execution has timed out (``time_out`` says what to record) or ended otherwise."""
    status = execution.effective_status(now)
    if status == CommandStatus.SENT:
        return replace(
            execution,
            status=response.status,
            result_json=response.result_json,
            responded_at=now,
            device_timestamp=response.device_timestamp,
            client_token=response.client_token,
            updated_at=now,
        )
    if is_repeat(execution, response):
        return execution
    raise _refused(execution, status, "answered")


def is_repeat(execution: Execution, response: CommandResponse) -> bool:
    """Whether ``response`` repeats the device answer that completed ``execution``."""
    if execution.responded_at is None or execution.status not in DEVICE_STATUSES:
        return False
    if response.client_token is not None:
        return response.client_token == execution.client_token
    return response.status == execution.status and _same_json(response.result_json, execution.result_json)


def cancel(execution: Execution, now: int) -> Execution:
    """Only a SENT execution that has not expired can be canceled."""
    status = execution.effective_status(now)
    if status != CommandStatus.SENT:
        raise _refused(execution, status, "canceled")
    return replace(execution, status=CommandStatus.CANCELED, updated_at=now)


def time_out(execution: Execution, now: int) -> Execution | None:
    """The TIMED_OUT execution to record for an expired SENT one; None when there is nothing to record."""
    if not execution.expired(now):
        return None
    return replace(execution, status=CommandStatus.TIMED_OUT, updated_at=now)


def publish_failed(execution: Execution, reason: str, now: int) -> Execution:
    """A SENT execution whose request never reached the broker."""
    if execution.status != CommandStatus.SENT:
        raise _refused(execution, execution.status, "marked as failed")
    return replace(
        execution, status=CommandStatus.FAILED, status_reason=f"Publish failed: {reason}", updated_at=now
    )


def _refused(execution: Execution, status: CommandStatus, what: str) -> InvalidStateTransition:
    return InvalidStateTransition(
        f"Command execution {execution.execution_id} is {status.value} and can no longer be {what}",
        details={"status": status.value},
    )


def _same_json(a: str | None, b: str | None) -> bool:
    """Equal JSON values, key order aside; ``1`` and ``1.0`` and ``true`` stay different."""
    if a is None or b is None:
        return a is b
    return _canonical(a) == _canonical(b)


def _canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
