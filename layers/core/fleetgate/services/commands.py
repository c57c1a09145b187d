"""Command use cases: the operator sends, reads, lists and cancels; the device answers.

Sending writes the execution (SENT) first and then publishes its request to the device's topic, QoS 1;
a device can never answer an execution that does not exist yet. If the publish fails the execution is
recorded FAILED with the reason, so no SENT execution was never sent. (Only if that second write fails
too, DynamoDB being unreachable, does it stay SENT; it then reads as TIMED_OUT once its ttl passes.)

Answers and cancels are single conditional writes (``CommandRepository``); a write that finds the
execution already past its deadline records TIMED_OUT on the way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fleetgate.clock import now_ms
from fleetgate.data import iot
from fleetgate.data.commands import CommandRepository, Deadline
from fleetgate.domain import commands as rules
from fleetgate.domain.commands import CommandRequest, CommandResponse, Execution
from fleetgate.domain.devices import Device
from fleetgate.errors import CallFailed, InvalidRequest, InvalidStateTransition, Retryable
from fleetgate.jsonutil import dumps
from fleetgate.settings import get_settings

MAX_PAGE = 100


def _repository() -> CommandRepository:
    return CommandRepository(get_settings().require("commands_table"))


# --------------------------------------------------------------------------- operator
def send(
    device: Device, request: CommandRequest, execution_id: str | None = None
) -> tuple[Execution, str | None]:
    """Create an execution for ``device`` (with ``execution_id`` when the operator chose one, else a new
    UUID; a duplicate is a Conflict) and publish it. Returns the execution and None, or, when the
    publish failed, the execution as recorded (FAILED) and the reason."""
    settings = get_settings()
    repo = _repository()
    now = now_ms()
    execution = rules.new_execution(
        request,
        device_id=device.id,
        thing_name=device.name,
        execution_id=str(uuid.uuid4()) if execution_id is None else _checked_id(execution_id),
        now=now,
        retention_days=settings.telemetry_retention_days,
    )
    repo.create(execution)
    prefix = settings.command_topic_prefix
    try:
        iot.publish(
            rules.request_topic(prefix, device.name, execution.execution_id),
            dumps(execution.request_payload()).encode(),
            qos=1,
            response_topic=rules.response_topic(prefix, device.name, execution.execution_id),
            correlation_data=execution.execution_id.encode(),
            message_expiry_s=execution.ttl,
        )
    except CallFailed as exc:
        failed = rules.publish_failed(execution, exc.message, now_ms())
        recorded, written = repo.finish(failed, Deadline.ANY, now_ms())
        # Not written: the execution moved on meanwhile (a device answered, so the publish did arrive).
        return recorded, exc.message if written else None
    return execution, None


def get(device_id: str, execution_id: str) -> Execution:
    return _repository().get(device_id, _checked_id(execution_id))


def list_page(device_id: str, limit: int, next_token: str | None) -> tuple[list[Execution], str | None]:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}")
    return _repository().list_page(device_id, limit, next_token)


def cancel(device_id: str, execution_id: str) -> Execution:
    """SENT → CANCELED; ``InvalidStateTransition`` (409) once it ended or expired (which is recorded)."""
    repo = _repository()
    current = repo.get(device_id, _checked_id(execution_id))
    now = now_ms()
    recorded, written = repo.finish(
        _refusing_late(repo, rules.cancel, current, now), Deadline.NOT_PASSED, now
    )
    if written:
        return recorded
    _refusing_late(repo, rules.cancel, recorded, now)  # it ended (or expired) since it was read: raises
    raise Retryable("The command execution changed while it was being canceled; retry")


# --------------------------------------------------------------------------- device
def respond(device_id: str, response: CommandResponse) -> Execution:
    """Record a device's answer with one conditional write. A repeat of the answer that completed the
    execution returns it unchanged; an expired execution is recorded TIMED_OUT and refused (409), as is
    every other terminal one; ``NotFound`` when the device has no such execution."""
    repo = _repository()
    now = now_ms()
    recorded, written = repo.complete(device_id, response, now)
    if written:
        return recorded
    outcome = _refusing_late(
        repo, lambda execution, at: rules.respond(execution, response, at), recorded, now
    )
    if outcome is recorded:
        return recorded  # a retry of the answer that completed it
    raise Retryable("The command execution changed while the answer was being recorded; retry")


# --------------------------------------------------------------------------- helpers
def _refusing_late(
    repo: CommandRepository, change: Callable[[Execution, int], Execution], execution: Execution, now: int
) -> Execution:
    """``change(execution, now)``; when the rules refuse it, first record TIMED_OUT if the execution
    has expired unrecorded (a write that touches an expired execution persists its timeout)."""
    try:
        return change(execution, now)
    except InvalidStateTransition:
        timed_out = rules.time_out(execution, now)
        if timed_out is not None:
            repo.finish(timed_out, Deadline.PASSED, now)  # not written: another writer ended it first
        raise


def _checked_id(execution_id: str) -> str:
    return rules.checked_execution_id(execution_id)
