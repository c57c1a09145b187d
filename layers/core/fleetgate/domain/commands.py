"""The command engine's rules: one execution model for every dialect's cloud → device commands
(ThingsBoard server-side RPC, ThingDatas commands; Xyte commands and the ThingsPro remote API next).
Pure rules, no AWS; the use cases are ``fleetgate.services.commands``, the store ``fleetgate.data.commands``.

Canonical states (a dialect names them in its ``Vocabulary``):

    QUEUED ──delivered (the device polls)──▶ DELIVERED ──device reports progress──▶ IN_PROGRESS
      │      (a push delivery, e.g. an MQTT     │   │                                   │
      │       publish, creates it DELIVERED)    │   └──device answers SUCCEEDED | FAILED | REJECTED ◀┘
      ├──expires──▶ EXPIRED                     ├──expires unanswered──▶ TIMED_OUT
      └──cancel──▶ CANCELED                     ├──delivery failed / retries exhausted──▶ FAILED
                                                └──cancel (where the vocabulary allows it)──▶ CANCELED
    A one-way command is SUCCEEDED as soon as it is delivered: there is nothing to wait for.

Invariants:
- Every state but QUEUED, DELIVERED and IN_PROGRESS is terminal, and only the transitions above exist.
- Expiry is enforced on read and on write: an open command at or past ``expires`` *is* EXPIRED (never
  delivered) or TIMED_OUT (delivered) for every reader (``effective_state``); it is never delivered and
  never accepts an answer, and the first writer that touches it records that (``settle``).
- Per-device order: a poll delivers the first deliverable command in id order; a delivered two-way
  command that is not answered is delivered again by the next poll (head of line) until it is answered,
  expires, or has been delivered ``retries + 1`` times (then FAILED).
- Answers are idempotent: an answer that repeats the one recorded (the same ``client_token``, or,
  without a token, the same state and result) changes nothing and gets the recorded command back; any
  other answer to a command that no longer awaits one is refused (``Vocabulary.refusal``).
- Every change bumps ``version``; the store makes writes conditional on it.

Storage (``fleetgate.data.commands``, ``docs/command-engine.md``): one repository over two tables, one
per ``IdScheme``, both keyed ``deviceId`` + the command's id: ``RpcTable`` (range key ``seq``, a number,
so integer ids come in order and a sparse local index is the poll queue) and ``CommandsTable`` (range
key ``executionId``, a string, so an operator-chosen UUID is unique by a conditional put). Not one
table: a range key has one type, and both tables already hold retained data under key schemas and TTL
attributes that DynamoDB cannot change in place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, ClassVar

from fleetgate.errors import Conflict, FleetgateError, InvalidStateTransition, NotFound

DAY_S = 86_400


class State(StrEnum):
    QUEUED = "QUEUED"
    DELIVERED = "DELIVERED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    TIMED_OUT = "TIMED_OUT"
    CANCELED = "CANCELED"


OPEN = frozenset({State.QUEUED, State.DELIVERED, State.IN_PROGRESS})
AWAITING = frozenset({State.DELIVERED, State.IN_PROGRESS})  # the device has it; an answer is expected
POLLABLE = frozenset({State.QUEUED, State.DELIVERED})  # what a poll may (re-)deliver
DEVICE_REPORTS = frozenset({State.IN_PROGRESS, State.SUCCEEDED, State.FAILED, State.REJECTED})
TERMINAL = frozenset(State) - OPEN


class IdScheme(StrEnum):
    SEQUENCE = "SEQUENCE"  # per-device integers 1, 2, 3… for the device, plus a UUID for the operator
    UUID = "UUID"  # one UUID names the command for both


Extra = str | int | bool  # a dialect's own attribute, stored as it is


class Vocabulary:
    """One dialect's words for the engine: its status names, id scheme and refusals. Subclasses set
    the class attributes; ``statuses`` must name each state the dialect can reach, one word each."""

    name: ClassVar[str]
    id_scheme: ClassVar[IdScheme]
    statuses: ClassVar[Mapping[State, str]]
    cancelable: ClassVar[frozenset[State]] = frozenset({State.QUEUED})
    refuse_answers: ClassVar[bool] = True  # False: a refused answer is ignored (ThingsBoard drops it)

    def __init__(self) -> None:
        words = list(self.statuses.values())
        if len(set(words)) != len(words):
            raise ValueError(f"{self.name}: status words must be distinct, got {words}")
        self._states = {word: state for state, word in self.statuses.items()}

    def status(self, state: State) -> str:
        return self.statuses[state]

    def state(self, status: str) -> State:
        try:
            return self._states[status]
        except KeyError:
            raise ValueError(f"{self.name}: unknown status {status!r}") from None

    def label(self, command: Command) -> str:
        """How the command's id reads in messages."""
        return command.uuid

    def refusal(self, command: Command, state: State, action: str) -> FleetgateError:
        return InvalidStateTransition(
            f"Command {self.label(command)} is {self.status(state)} and can no longer be {action}",
            details={"status": self.status(state)},
        )

    def not_found(self, device_id: str, key: int | str) -> FleetgateError:
        return NotFound(f"Command '{key}' not found for device '{device_id}'")


@dataclass(frozen=True)
class CommandSpec:
    """A validated request to run a command, from a dialect's parser; nothing is stored yet."""

    name: str  # the method or action
    params_json: str  # compact JSON
    created: int  # epoch ms: from when expiry counts
    expires: int  # epoch ms
    oneway: bool = False
    retries: int | None = None  # re-deliveries allowed to an unanswered two-way command (polls)
    uuid: str | None = None  # the operator's choice; None: a new UUID
    extras: Mapping[str, Extra] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """A device's report on a command, validated by its dialect."""

    state: State  # one of DEVICE_REPORTS
    result_json: str | None = None  # compact JSON; None: no result
    client_token: str | None = None
    device_timestamp: int | None = None


@dataclass(frozen=True)
class Command:
    device_id: str
    uuid: str  # what the operator sees (and, in the UUID scheme, the device)
    seq: int | None  # per-device integer id in the SEQUENCE scheme, else None
    name: str
    params_json: str
    state: State
    created: int  # epoch ms
    expires: int  # epoch ms
    retain_until: int  # epoch s: when the store may delete the record (TTL)
    updated: int  # epoch ms: the last recorded change
    oneway: bool = False
    retries: int | None = None
    deliveries: int = 0
    delivered_time: int | None = None  # first delivery
    last_delivered_time: int | None = None
    completed_time: int | None = None
    result_json: str | None = None
    responded_time: int | None = None  # when the device's last report was recorded
    device_timestamp: int | None = None
    client_token: str | None = None
    reason: str | None = None  # why the service ended it (a failed delivery)
    extras: Mapping[str, Extra] = field(default_factory=dict)
    version: int = 1

    @property
    def key(self) -> int | str:
        """The store key: ``seq`` in the SEQUENCE scheme, else ``uuid``."""
        return self.uuid if self.seq is None else self.seq

    @property
    def params(self) -> Any:
        return json.loads(self.params_json)

    @property
    def result(self) -> Any:
        return None if self.result_json is None else json.loads(self.result_json)

    @property
    def open(self) -> bool:
        return self.state in OPEN

    def due(self, now: int) -> bool:
        return now >= self.expires

    def effective_state(self, now: int) -> State:
        """The state as of ``now``: an open command past ``expires`` is EXPIRED (never delivered) or
        TIMED_OUT, whether or not a writer has recorded it yet."""
        if self.open and self.due(now):
            return State.EXPIRED if self.state == State.QUEUED else State.TIMED_OUT
        return self.state

    @property
    def retries_exhausted(self) -> bool:
        return self.state == State.DELIVERED and self.retries is not None and self.deliveries > self.retries


def retain_until(expires: int, retention_days: int) -> int:
    """Epoch seconds: ``retention_days`` after the expiry (rounded up to the second)."""
    return -(-expires // 1000) + retention_days * DAY_S


# --------------------------------------------------------------------------- transitions
def new_command(
    spec: CommandSpec, *, device_id: str, uuid: str, seq: int | None, retention_days: int, pushed: bool
) -> Command:
    """The command as first recorded: QUEUED for a poll queue, DELIVERED when the delivery pushes it
    (it is recorded before it is sent, so an answer can never precede its record)."""
    command = Command(
        device_id=device_id,
        uuid=uuid,
        seq=seq,
        name=spec.name,
        params_json=spec.params_json,
        state=State.QUEUED,
        created=spec.created,
        expires=spec.expires,
        retain_until=retain_until(spec.expires, retention_days),
        updated=spec.created,
        oneway=spec.oneway,
        retries=spec.retries,
        extras=dict(spec.extras),
    )
    if not pushed:
        return command
    return replace(
        command,
        state=State.DELIVERED,
        deliveries=1,
        delivered_time=spec.created,
        last_delivered_time=spec.created,
    )


def settle(command: Command, now: int) -> Command | None:
    """The end an open command has reached without anyone recording it: EXPIRED or TIMED_OUT past its
    expiry, FAILED once its retries are exhausted. None when there is nothing to record."""
    if not command.open:
        return None
    if command.due(now):
        return _finish(command, command.effective_state(now), now)
    if command.retries_exhausted:
        return _finish(command, State.FAILED, now)
    return None


def deliverable(command: Command, now: int) -> bool:
    return command.state in POLLABLE and settle(command, now) is None


def deliver(command: Command, now: int) -> Command:
    """The command after a poll hands it to the device: DELIVERED (again, on a re-delivery), or
    SUCCEEDED when it is one-way."""
    if not deliverable(command, now):
        raise Conflict(f"Command {command.key} is {command.effective_state(now)} and cannot be delivered")
    delivered = replace(
        command,
        deliveries=command.deliveries + 1,
        delivered_time=command.delivered_time if command.delivered_time is not None else now,
        last_delivered_time=now,
        updated=now,
        version=command.version + 1,
    )
    if command.oneway:
        return replace(delivered, state=State.SUCCEEDED, completed_time=now)
    return replace(delivered, state=State.DELIVERED)


def answer(command: Command, report: Answer, now: int, vocabulary: Vocabulary) -> Command:
    """The command after a device's report. Returns ``command`` itself (nothing to record) when the
    report repeats the recorded one; raises ``vocabulary.refusal`` when the command awaits no answer
    (not delivered yet, one-way, ended, or expired: ``settle`` says what to record then)."""
    if report.state not in DEVICE_REPORTS:
        raise ValueError(f"A device cannot report {report.state}")
    state = command.effective_state(now)
    if is_repeat(command, report):
        return command
    if state not in AWAITING or command.oneway:
        raise vocabulary.refusal(command, state, "answered")
    answered = replace(
        command,
        state=report.state,
        result_json=report.result_json if report.result_json is not None else command.result_json,
        responded_time=now,
        device_timestamp=report.device_timestamp,
        client_token=report.client_token,
        updated=now,
        version=command.version + 1,
    )
    if report.state in TERMINAL:
        return replace(answered, completed_time=now)
    return answered


def is_repeat(command: Command, report: Answer) -> bool:
    """Whether ``report`` repeats the device report recorded on ``command``."""
    if command.responded_time is None or command.state not in DEVICE_REPORTS:
        return False
    if report.client_token is not None:
        return report.client_token == command.client_token
    return report.state == command.state and _same_json(report.result_json, command.result_json)


def cancel(command: Command, now: int, vocabulary: Vocabulary) -> Command:
    """CANCELED, from the states the vocabulary allows (and before expiry); else its refusal."""
    state = command.effective_state(now)
    if state not in vocabulary.cancelable:
        raise vocabulary.refusal(command, state, "canceled")
    return _finish(command, State.CANCELED, now)


def delivery_failed(command: Command, reason: str, now: int, vocabulary: Vocabulary) -> Command:
    """FAILED with ``reason``: the delivery never reached the device (even if it is already due)."""
    if not command.open:
        raise vocabulary.refusal(command, command.state, "marked as failed")
    return replace(_finish(command, State.FAILED, now), reason=reason)


def _finish(command: Command, state: State, now: int) -> Command:
    return replace(command, state=state, completed_time=now, updated=now, version=command.version + 1)


def _same_json(a: str | None, b: str | None) -> bool:
    """Equal JSON values, key order aside; ``1`` and ``1.0`` and ``true`` stay different."""
    if a is None or b is None:
        return a is b
    return _canonical(a) == _canonical(b)


def _canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
