"""ThingDatas commands on the command engine (cloud → device over MQTT, the answer over MQTT or HTTPS):
its vocabulary, payloads, topics and view.

    SENT ──device answers SUCCEEDED / FAILED / REJECTED (before expiresAt)──▶ that status
      ├──expiresAt passes with no answer──▶ TIMED_OUT
      ├──operator cancels (before expiresAt)──▶ CANCELED
      └──the publish to the device's topic fails──▶ FAILED (statusReason says why; no respondedAt)

- SENT is the engine's DELIVERED: the execution is recorded SENT, then published (``MqttPublish``); if
  the publish fails it is FAILED at once, never left SENT. Ids are UUIDs (the engine's UUID scheme).
- ``expiresAt = createdAt + ttl``. A SENT execution past it *is* TIMED_OUT for every reader; the first
  writer that touches it (a late answer, a cancel) records that.
- A device's answer to a terminal execution is refused (409 ``InvalidStateTransition`` with the current
  ``status``) unless it repeats the answer that completed it: the same ``clientToken``, or, without a
  token, the same status and result. A repeat changes nothing and gets the first answer again.
- ``commandId`` in the payload the device receives equals ``executionId``: a command is sent to one
  thing, so one id names both, and a device that answers with either id is answered correctly.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from fleetgate.clock import now_ms
from fleetgate.domain.commands import Answer, Command, CommandSpec, IdScheme, State, Vocabulary
from fleetgate.domain.devices import Device
from fleetgate.errors import FleetgateError, InvalidRequest, InvalidStateTransition, NotFound, PayloadTooLarge
from fleetgate.jsonutil import dumps, integer
from fleetgate.services import commands as engine
from fleetgate.settings import get_settings

MAX_ACTION = 128
DEFAULT_TTL_S = 30  # Fleets' example payload
MAX_TTL_S = 86_400
MAX_PARAMS_BYTES = 65_536  # the MQTT payload must stay under AWS IoT Core's 128 KB
MAX_RESULT_BYTES = 65_536
MAX_DEVICE_TIMESTAMP = 10**15 - 1
# 32 hex digits, hyphens between the groups optional (uuid.UUID alone also takes braces and "urn:uuid:")
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\Z")
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


class CommandVocabulary(Vocabulary):
    name = "thingdatas"
    id_scheme = IdScheme.UUID
    statuses: ClassVar[Mapping[State, str]] = {
        State.DELIVERED: CommandStatus.SENT.value,
        State.SUCCEEDED: CommandStatus.SUCCEEDED.value,
        State.FAILED: CommandStatus.FAILED.value,
        State.REJECTED: CommandStatus.REJECTED.value,
        State.TIMED_OUT: CommandStatus.TIMED_OUT.value,
        State.CANCELED: CommandStatus.CANCELED.value,
    }
    cancelable = frozenset({State.DELIVERED})

    def refusal(self, command: Command, state: State, action: str) -> FleetgateError:
        word = self.status(state)
        return InvalidStateTransition(
            f"Command execution {command.uuid} is {word} and can no longer be {action}",
            details={"status": word},
        )

    def not_found(self, device_id: str, key: int | str) -> FleetgateError:
        return NotFound(f"Command execution '{key}' not found for this thing")


VOCABULARY = CommandVocabulary()


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

    def answer(self) -> Answer:
        return Answer(
            VOCABULARY.state(self.status.value), self.result_json, self.client_token, self.device_timestamp
        )


@dataclass(frozen=True)
class Execution:
    """An engine command as ThingDatas names it."""

    command: Command

    @property
    def device_id(self) -> str:
        return self.command.device_id

    @property
    def execution_id(self) -> str:
        return self.command.uuid

    @property
    def command_id(self) -> str:
        return self.command.uuid

    @property
    def thing_name(self) -> str:
        return str(self.command.extras["thingName"])

    @property
    def action(self) -> str:
        return self.command.name

    @property
    def params_json(self) -> str:
        return self.command.params_json

    @property
    def params(self) -> Any:
        return self.command.params

    @property
    def ttl(self) -> int:
        return int(self.command.extras["ttl"])

    @property
    def status(self) -> CommandStatus:
        return CommandStatus(VOCABULARY.status(self.command.state))

    def effective_status(self, now: int) -> CommandStatus:
        return CommandStatus(VOCABULARY.status(self.command.effective_state(now)))

    def expired(self, now: int) -> bool:
        return self.command.effective_state(now) is State.TIMED_OUT and self.command.open

    @property
    def created_at(self) -> int:
        return self.command.created

    @property
    def expires_at(self) -> int:
        return self.command.expires

    @property
    def updated_at(self) -> int:
        return self.command.updated

    @property
    def result_json(self) -> str | None:
        return self.command.result_json

    @property
    def result(self) -> Any:
        return self.command.result

    @property
    def responded_at(self) -> int | None:
        return self.command.responded_time

    @property
    def device_timestamp(self) -> int | None:
        return self.command.device_timestamp

    @property
    def client_token(self) -> str | None:
        return self.command.client_token

    @property
    def status_reason(self) -> str | None:
        return self.command.reason

    def request_payload(self) -> dict[str, Any]:
        return request_payload(self.command)


# --------------------------------------------------------------------------- wire shapes
def request_payload(command: Command) -> dict[str, Any]:
    """Fleets' request payload; ``timestamp`` is in seconds, as in Fleets' example."""
    return {
        "commandId": command.uuid,
        "executionId": command.uuid,
        "action": command.name,
        "params": command.params,
        "timestamp": command.created // 1000,
        "ttl": command.extras["ttl"],
    }


def request_topic(prefix: str, thing_name: str, execution_id: str) -> str:
    """``{prefix}/commands/things/{thingName}/executions/{executionId}/request`` (Fleets: ``$emqx`` as
    the prefix, which AWS IoT Core reserves)."""
    return f"{prefix}/commands/things/{thing_name}/executions/{execution_id}/request"


def response_topic(prefix: str, thing_name: str, execution_id: str) -> str:
    return f"{prefix}/commands/things/{thing_name}/executions/{execution_id}/response"


DELIVERY = engine.MqttPublish(
    request_topic=lambda c: request_topic(
        get_settings().command_topic_prefix, str(c.extras["thingName"]), c.uuid
    ),
    response_topic=lambda c: response_topic(
        get_settings().command_topic_prefix, str(c.extras["thingName"]), c.uuid
    ),
    payload=lambda c: dumps(request_payload(c)).encode(),
)


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


def command_spec(
    request: CommandRequest, *, thing_name: str, now: int, execution_id: str | None = None
) -> CommandSpec:
    return CommandSpec(
        name=request.action,
        params_json=request.params_json,
        created=now,
        expires=now + request.ttl * 1000,
        uuid=execution_id,
        extras={"thingName": thing_name, "ttl": request.ttl},
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
    raw_timestamp = body.get("timestamp")
    timestamp = integer(raw_timestamp)
    if raw_timestamp is not None and (timestamp is None or not 0 <= timestamp <= MAX_DEVICE_TIMESTAMP):
        raise InvalidRequest("timestamp must be a non-negative integer")
    return CommandResponse(execution_id, CommandStatus(status), result_json, timestamp, client_token)


def checked_execution_id(value: Any) -> str:
    """An execution id: a UUID, in its canonical lower-case form."""
    if value is None:
        raise InvalidRequest("executionId is required")
    if not isinstance(value, str) or not UUID_TEXT.match(value):
        raise InvalidRequest("executionId must be a UUID")
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise InvalidRequest("executionId must be a UUID") from exc


# --------------------------------------------------------------------------- use cases
def send(
    device: Device, request: CommandRequest, execution_id: str | None = None
) -> tuple[Execution, str | None]:
    """Record an execution for ``device`` (with ``execution_id`` when the operator chose one, else a new
    UUID; a duplicate is a Conflict) and publish it. Returns the execution and None, or, when the
    publish failed, the execution as recorded (FAILED) and the reason."""
    chosen = None if execution_id is None else checked_execution_id(execution_id)
    spec = command_spec(request, thing_name=device.name, now=now_ms(), execution_id=chosen)
    command, failure = engine.send(VOCABULARY, DELIVERY, device, spec)
    return Execution(command), failure


def get(device_id: str, execution_id: str) -> Execution:
    return Execution(engine.get(VOCABULARY, device_id, checked_execution_id(execution_id)))


def list_page(device_id: str, limit: int, next_token: str | None) -> tuple[list[Execution], str | None]:
    page, token = engine.list_page(VOCABULARY, device_id, limit, next_token)
    return [Execution(c) for c in page], token


def cancel(device_id: str, execution_id: str) -> Execution:
    """SENT → CANCELED; ``InvalidStateTransition`` (409) once it ended or expired (which is recorded)."""
    return Execution(engine.cancel(VOCABULARY, device_id, checked_execution_id(execution_id)))


def respond(device_id: str, response: CommandResponse) -> Execution:
    """Record a device's answer with one conditional write; a repeat of the answer that completed the
    execution returns it unchanged; ``NotFound``, or ``InvalidStateTransition`` once it ended."""
    command, _ = engine.answer(VOCABULARY, device_id, response.execution_id, response.answer())
    assert command is not None
    return Execution(command)
