"""The command engine's use cases, for every dialect: the operator sends, waits, reads, lists and
cancels; the device takes (poll queue) and answers.

A dialect plugs in two things, both passed in (services never import dialects): its ``Vocabulary``
(``fleetgate.domain.commands``: statuses, id scheme, refusals) and a ``Delivery``:
- ``PollQueue``: the command waits in the store until the device's poll takes it
  (``next_for_device``), and the device's poller is woken up;
- ``MqttPublish``: the command is recorded DELIVERED and published, QoS 1, with the vocabulary's
  response topic, its UUID as correlation data and a message expiry equal to its lifetime. If the
  publish fails the command is recorded FAILED with the reason, so no DELIVERED command was never sent
  (only if that write fails too does it stay DELIVERED; it then reads as TIMED_OUT once it expires).

Every change is a write conditional on what was read (``CommandRepository``), retried from a fresh
read with ``fleetgate.retry.on_conflict`` when another writer got there first; a device's answer is one
conditional write whose failure returns the stored command, so a repeat or a refusal costs no read.
A writer that finds a command past its expiry records EXPIRED / TIMED_OUT on the way.
"""

from __future__ import annotations

import time
import uuid as uuids
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fleetgate.clock import now_ms
from fleetgate.data import iot, wakeups
from fleetgate.data.commands import CommandRepository
from fleetgate.domain import commands as rules
from fleetgate.domain.commands import Answer, Command, CommandSpec, IdScheme, Vocabulary
from fleetgate.domain.devices import Device
from fleetgate.errors import CallFailed, Conflict, FleetgateError, InvalidRequest, Retryable
from fleetgate.retry import BUDGET_S, on_conflict
from fleetgate.settings import get_settings

MAX_PAGE = 100
WAIT_STEP_S = (0.05, 0.1, 0.2, 0.25)  # a wait re-reads the command at these intervals, then 0.25 s
BUSY = "The device's commands are being changed by many writers; retry"


class Delivery(Protocol):
    @property
    def pushed(self) -> bool:
        """True: handed over when sent (the command starts DELIVERED); False: the device polls."""

    @property
    def failure(self) -> str:
        """How a failed delivery's reason starts."""

    def deliver(self, device: Device, command: Command) -> None:
        """Hand ``command`` over (or announce it); ``CallFailed`` when a push did not reach the device."""


@dataclass(frozen=True)
class PollQueue:
    """The device takes its commands with a poll (ThingsBoard's ``GET rpc``); sending wakes it."""

    channel: str
    pushed: bool = False
    failure: str = "Delivery failed"

    def deliver(self, device: Device, command: Command) -> None:
        wakeups.notify(device.queues.get(self.channel), self.channel)


@dataclass(frozen=True)
class MqttPublish:
    """The command is published through ``iot-data`` to the vocabulary's request topic."""

    request_topic: Callable[[Command], str]
    response_topic: Callable[[Command], str]
    payload: Callable[[Command], bytes]
    pushed: bool = True
    failure: str = "Publish failed"

    def deliver(self, device: Device, command: Command) -> None:
        iot.publish(
            self.request_topic(command),
            self.payload(command),
            qos=1,
            response_topic=self.response_topic(command),
            correlation_data=command.uuid.encode(),
            message_expiry_s=max(1, -(-(command.expires - command.created) // 1000)),
        )


def repository(vocabulary: Vocabulary) -> CommandRepository:
    settings = get_settings()
    table = "rpc_table" if vocabulary.id_scheme is IdScheme.SEQUENCE else "commands_table"
    return CommandRepository(settings.require(table), vocabulary)


# --------------------------------------------------------------------------- operator
def send(
    vocabulary: Vocabulary, delivery: Delivery, device: Device, spec: CommandSpec
) -> tuple[Command, str | None]:
    """Record a command for ``device`` and deliver it. Returns the command and None, or, when a push
    failed, the command as recorded (FAILED, unless the device answered meanwhile) and the reason.
    ``Conflict`` when the operator's UUID is taken."""
    repo = repository(vocabulary)
    sequence = vocabulary.id_scheme is IdScheme.SEQUENCE
    command = rules.new_command(
        spec,
        device_id=device.id,
        uuid=spec.uuid or str(uuids.uuid4()),
        seq=repo.next_seq(device.id) if sequence else None,
        retention_days=get_settings().command_retention_days,
        pushed=delivery.pushed,
    )
    repo.create(command)
    try:
        delivery.deliver(device, command)
    except CallFailed as exc:
        failed = rules.delivery_failed(command, f"{delivery.failure}: {exc.message}", now_ms(), vocabulary)
        try:
            repo.replace(command, failed)
        except Conflict:  # it moved on meanwhile (the device answered, so the publish did arrive)
            return repo.get(device.id, command.key) or command, None
        return failed, exc.message
    return command, None


def get(vocabulary: Vocabulary, device_id: str, uuid: str) -> Command:
    found = repository(vocabulary).find(device_id, uuid)
    if found is None:
        raise vocabulary.not_found(device_id, uuid)
    return found


def list_page(
    vocabulary: Vocabulary, device_id: str, limit: int, next_token: str | None
) -> tuple[list[Command], str | None]:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}")
    return repository(vocabulary).list_page(device_id, limit, next_token)


def cancel(vocabulary: Vocabulary, device_id: str, uuid: str) -> Command:
    """CANCELED from the states the vocabulary allows; its refusal otherwise (an expiry found on the
    way is recorded first)."""
    repo = repository(vocabulary)

    def attempt() -> Command | FleetgateError:
        current = repo.find(device_id, uuid)
        if current is None:
            return vocabulary.not_found(device_id, uuid)
        now = now_ms()
        try:
            canceled = rules.cancel(current, now, vocabulary)
        except FleetgateError as refusal:  # a value, so that on_conflict retries lost writes only
            _record_settled(repo, current, now)
            return refusal
        repo.replace(current, canceled)
        return canceled

    return _raised(on_conflict(attempt, busy=BUSY))


def wait(vocabulary: Vocabulary, command: Command, max_seconds: float) -> Command:
    """``command`` once it has ended, or as it is when the wait ends: at its expiry (which is then
    recorded) or after ``max_seconds``, whichever comes first."""
    repo = repository(vocabulary)
    deadline = time.monotonic() + min(max_seconds, (command.expires - now_ms()) / 1000)
    step = 0
    current = command
    while current.open:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(remaining, WAIT_STEP_S[min(step, len(WAIT_STEP_S) - 1)]))
        step += 1
        current = repo.get(command.device_id, command.key) or current
    if current.open and current.due(now_ms()):
        return settled(vocabulary, command.device_id, command.key)
    return current


def settled(vocabulary: Vocabulary, device_id: str, key: int | str) -> Command:
    """The stored command, with its expiry (or exhausted retries) recorded if it has reached one."""
    repo = repository(vocabulary)

    def attempt() -> Command | FleetgateError:
        current = repo.get(device_id, key)
        if current is None:
            return vocabulary.not_found(device_id, key)
        return _record_settled(repo, current, now_ms(), lost_race=True)

    return _raised(on_conflict(attempt, busy=BUSY))


# --------------------------------------------------------------------------- device
def next_for_device(vocabulary: Vocabulary, device_id: str) -> Command | None:
    """What a poll hands the device: the first deliverable command in id order, recorded as
    delivered (as it was before, for the dialect to render); None when there is none. Commands found
    past their expiry (or out of retries) are recorded as such on the way and never delivered."""
    repo = repository(vocabulary)

    def attempt() -> Command | None:
        now = now_ms()
        for command in repo.pollable(device_id):
            ended = rules.settle(command, now)
            if ended is not None:
                repo.replace(command, ended)
                continue
            if rules.deliverable(command, now):
                repo.replace(command, rules.deliver(command, now))
                return command
        return None

    # A poll has its long-poll's time to spare: concurrent polls of one device all race for its head
    # command, so it may retry twice as long as other writers before answering 503.
    return on_conflict(
        attempt,
        budget=2 * BUDGET_S,
        busy="The device's commands are being changed by many writers; poll again",
    )


def answer(
    vocabulary: Vocabulary, device_id: str, key: int | str, report: Answer
) -> tuple[Command | None, bool]:
    """Record a device's report with one conditional write. Returns the recorded command and True; the
    stored command and False for a repeat of the recorded report, or, when the vocabulary ignores
    refused answers, for a refused one (None: no such command). Otherwise a refusal raises (an expiry
    found on the way is recorded first), and an unknown command is the vocabulary's ``not_found``."""
    repo = repository(vocabulary)
    now = now_ms()
    recorded, written = repo.answer(device_id, key, report, now)
    if written or recorded is None:
        if recorded is None and vocabulary.refuse_answers:
            raise vocabulary.not_found(device_id, key)
        return recorded, written
    try:
        outcome = rules.answer(recorded, report, now, vocabulary)
    except FleetgateError:
        _record_settled(repo, recorded, now)
        if vocabulary.refuse_answers:
            raise
        return recorded, False
    if outcome is recorded:
        return recorded, False  # a retry of the recorded answer
    raise Retryable("The command changed while the answer was being recorded; retry")


# --------------------------------------------------------------------------- helpers
def _record_settled(
    repo: CommandRepository, command: Command, now: int, *, lost_race: bool = False
) -> Command:
    """Record the end ``command`` has reached unrecorded, if any. A lost race is ignored (another
    writer ended it first) unless ``lost_race``, then it propagates for a retry."""
    ended = rules.settle(command, now)
    if ended is None:
        return command
    try:
        repo.replace(command, ended)
    except Conflict:
        if lost_race:
            raise
        return command
    return ended


def _raised(outcome: Command | FleetgateError) -> Command:
    if isinstance(outcome, FleetgateError):
        raise outcome
    return outcome
