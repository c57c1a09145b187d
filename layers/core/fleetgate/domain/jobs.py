"""Jobs with AWS IoT Jobs semantics (docs/thingdatas.md, "The job rules"), as pure rules: no AWS.

A job is what an operator asks for: a JSON ``document`` for a set of things, named directly or through
static thing groups. Each target thing gets one *execution*, which moves through AWS's lifecycle:

    QUEUED ──device: IN_PROGRESS──▶ IN_PROGRESS ──device: SUCCEEDED | FAILED | REJECTED──▶ (terminal)
      │ └──device: SUCCEEDED | FAILED | REJECTED──▶ (terminal)        ├──a timer runs out──▶ TIMED_OUT
      ├──operator cancels, or the job is aborted──▶ CANCELED        └──operator cancels with force──▶ CANCELED
      └──the thing leaves the only group a CONTINUOUS job reached it through──▶ REMOVED

- A device may send only IN_PROGRESS, SUCCEEDED, FAILED and REJECTED (others: 400). QUEUED and
  IN_PROGRESS accept all four (QUEUED → SUCCEEDED/FAILED is not explicit in AWS's docs; it is allowed
  here, and the Fleets seed's own update example does exactly that). A terminal execution refuses every
  update: 409 ``InvalidStateTransition`` carrying the ``executionState``.
- ``versionNumber`` is 1 while QUEUED and grows by one with every change, the device's or the
  service's (time-out, cancel, removal). ``expectedVersion`` that differs → 409 ``VersionMismatch``
  with the ``executionState``. Separately, every stored write bumps an internal ``revision`` that
  writes are conditional on, so bookkeeping the device never sees (which groups reach a thing) cannot
  be lost to a concurrent update either.
- ``statusDetails``: at most 10 string pairs, keys 1-128 of ``[a-zA-Z0-9:_-]``, values 1-1024
  characters without control (Unicode category C) characters. Given, they *replace* the stored map;
  omitted, it stays.
- Timers: ``stepTimeoutInMinutes`` (1-10080; -1 on an update clears it) runs from when it is set; the
  job's ``inProgressTimeoutInMinutes`` runs from ``startedAt``. The earlier of the two is the deadline,
  so a step timer never reaches past the in-progress timer. An IN_PROGRESS execution at or past its
  deadline *is* TIMED_OUT for every reader (``settle``); the first reader or writer records it, with
  ``lastUpdatedAt`` at the deadline.
- Rollout: with ``maximumPerMinute`` = m, target i (in target order) is queued for its device at
  ``createdAt + floor(i / m)`` minutes. Until then devices do not see it at all, and that moment is
  its ``queuedAt``, as in AWS, where a rolled-out execution is created when it is dispatched.
- Retries are safe: an update that repeats the ``clientToken`` *and* the fields of the update that
  produced the current state (``replays``) gets the same answer again and changes nothing. A service
  transition forgets the token, so a retry after a time-out is answered with the time-out.
- A SNAPSHOT job is COMPLETED once none of its executions is QUEUED or IN_PROGRESS; a CONTINUOUS job
  never completes. Abort criteria are checked after each terminal failure: with ``executed`` = things
  whose execution SUCCEEDED, FAILED, was REJECTED or TIMED_OUT, a criterion fires when ``executed ≥
  minNumberOfExecutedThings`` and its failures reach ``thresholdPercentage`` of ``executed`` (ALL
  counts the three failure statuses). The job is then CANCELED with reason code ``ABORTED`` and its
  QUEUED executions are canceled; IN_PROGRESS ones keep running (AWS).
- The job document reaches devices as a JSON object, as in the MQTT API that ThingDatas mirrors; AWS's
  HTTP device API would send it as a string.
- Times are epoch milliseconds inside and epoch seconds in every device answer (AWS).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from fleetgate.domain.devices import NAME_PATTERN, Thing
from fleetgate.errors import (
    InvalidRequest,
    InvalidStateTransition,
    NotFound,
    PayloadTooLarge,
    VersionMismatch,
)
from fleetgate.jsonutil import dumps

JOB_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}\Z")
NEXT = "$next"
MAX_DESCRIPTION = 2028
MAX_DOCUMENT_BYTES = 32_768
MAX_THING_TARGETS = 100  # AWS's documented target limit; larger fleets are reached through groups
MAX_GROUP_TARGETS = 25  # keeps a job, its group index items and its first executions in one transaction
MAX_PER_MINUTE = 1000
MAX_TIMEOUT_MINUTES = 10_080
CLEAR_STEP_TIMER = -1
MAX_STATUS_DETAILS = 10
DETAIL_KEY_PATTERN = re.compile(r"[a-zA-Z0-9:_-]{1,128}\Z")
MAX_DETAIL_VALUE = 1024
REASON_CODE_PATTERN = re.compile(r"[A-Z0-9_]{1,128}\Z")
MAX_COMMENT = 2028
ABORTED = "ABORTED"
MINUTE_MS = 60_000
FOREVER = 10**15 - 1  # an epoch-ms bound past every rollout


class ExecutionStatus(StrEnum):
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    REJECTED = "REJECTED"
    REMOVED = "REMOVED"
    CANCELED = "CANCELED"


PENDING = frozenset({ExecutionStatus.QUEUED, ExecutionStatus.IN_PROGRESS})
TERMINAL = frozenset(ExecutionStatus) - PENDING
DEVICE_STATUSES = frozenset(
    {ExecutionStatus.IN_PROGRESS, ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.REJECTED}
)
FAILURES = frozenset({ExecutionStatus.FAILED, ExecutionStatus.REJECTED, ExecutionStatus.TIMED_OUT})
EXECUTED = FAILURES | {ExecutionStatus.SUCCEEDED}


class JobStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"


class TargetSelection(StrEnum):
    SNAPSHOT = "SNAPSHOT"
    CONTINUOUS = "CONTINUOUS"


class FailureType(StrEnum):
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    ALL = "ALL"

    @property
    def statuses(self) -> frozenset[ExecutionStatus]:
        return FAILURES if self is FailureType.ALL else frozenset({ExecutionStatus(self.value)})


# --------------------------------------------------------------------------- jobs
@dataclass(frozen=True)
class AbortCriterion:
    failure_type: FailureType
    threshold_percentage: Decimal
    min_executed_things: int

    def fires(self, counts: Mapping[ExecutionStatus, int]) -> bool:
        executed = sum(counts.get(s, 0) for s in EXECUTED)
        failed = sum(counts.get(s, 0) for s in self.failure_type.statuses)
        return executed >= self.min_executed_things and failed * 100 >= self.threshold_percentage * executed


@dataclass(frozen=True)
class JobSpec:
    """An operator's job, validated (``job_spec``); nothing is stored until it is."""

    job_id: str
    document: dict[str, Any]
    thing_names: tuple[str, ...]
    group_names: tuple[str, ...]
    target_selection: TargetSelection = TargetSelection.SNAPSHOT
    description: str | None = None
    maximum_per_minute: int | None = None
    abort_criteria: tuple[AbortCriterion, ...] = ()
    in_progress_timeout_minutes: int | None = None

    @property
    def continuous(self) -> bool:
        return self.target_selection is TargetSelection.CONTINUOUS


@dataclass(frozen=True)
class JobRef:
    """What an execution needs to know of its job, copied onto it (and onto a continuous job's group
    index items) so that device requests never read the job."""

    job_id: str
    uid: str  # random per job: keys the devices' document cache
    continuous: bool
    abortable: bool
    in_progress_timeout_minutes: int | None


@dataclass(frozen=True)
class Job:
    spec: JobSpec
    uid: str
    status: JobStatus
    created_at: int
    last_updated_at: int
    counts: Mapping[ExecutionStatus, int]
    completed_at: int | None = None
    reason_code: str | None = None
    comment: str | None = None
    force_canceled: bool = False
    creating: bool = False  # executions are still being written: a SNAPSHOT job may not complete yet

    @property
    def id(self) -> str:
        return self.spec.job_id

    @property
    def ref(self) -> JobRef:
        return JobRef(
            self.id,
            self.uid,
            self.spec.continuous,
            bool(self.spec.abort_criteria),
            self.spec.in_progress_timeout_minutes,
        )

    @property
    def complete(self) -> bool:
        """Whether a SNAPSHOT job has nothing left to run (and so is, or is due to be, COMPLETED)."""
        return (
            not self.spec.continuous
            and not self.creating
            and self.counts.get(ExecutionStatus.QUEUED, 0) == 0
            and self.counts.get(ExecutionStatus.IN_PROGRESS, 0) == 0
        )


def job_spec(
    *,
    job_id: str | None,
    document: Any,
    thing_names: Sequence[str] | None = None,
    group_names: Sequence[str] | None = None,
    target_selection: str | None = None,
    description: str | None = None,
    maximum_per_minute: int | None = None,
    abort_criteria: Sequence[AbortCriterion] | None = None,
    in_progress_timeout_minutes: int | None = None,
) -> JobSpec:
    """Validate an operator's job. ``job_id`` defaults to a UUID; target lists are deduplicated."""
    job_id = str(uuid.uuid4()) if job_id is None else job_id
    check_job_id(job_id)
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidRequest(f"description must be at most {MAX_DESCRIPTION} characters")
    if not isinstance(document, dict):
        raise InvalidRequest("document must be a JSON object")
    if len(dumps(document).encode()) > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(f"document must be at most {MAX_DOCUMENT_BYTES} bytes of JSON")
    things, groups = _targets(thing_names, group_names)
    try:
        selection = TargetSelection(target_selection or TargetSelection.SNAPSHOT)
    except ValueError as exc:
        raise InvalidRequest("targetSelection must be SNAPSHOT or CONTINUOUS") from exc
    if maximum_per_minute is not None and not 1 <= maximum_per_minute <= MAX_PER_MINUTE:
        raise InvalidRequest(
            f"jobExecutionsRolloutConfig.maximumPerMinute must be between 1 and {MAX_PER_MINUTE}"
        )
    if (
        in_progress_timeout_minutes is not None
        and not 1 <= in_progress_timeout_minutes <= MAX_TIMEOUT_MINUTES
    ):
        raise InvalidRequest(
            f"timeoutConfig.inProgressTimeoutInMinutes must be between 1 and {MAX_TIMEOUT_MINUTES}"
        )
    criteria = tuple(abort_criteria or ())
    if abort_criteria is not None and not criteria:
        raise InvalidRequest("abortConfig.criteriaList must hold at least one criterion")
    types = [c.failure_type for c in criteria]
    if len(set(types)) != len(types):
        raise InvalidRequest("abortConfig.criteriaList may hold one criterion per failureType")
    return JobSpec(
        job_id=job_id,
        document=document,
        thing_names=things,
        group_names=groups,
        target_selection=selection,
        description=description,
        maximum_per_minute=maximum_per_minute,
        abort_criteria=criteria,
        in_progress_timeout_minutes=in_progress_timeout_minutes,
    )


def _targets(
    thing_names: Sequence[str] | None, group_names: Sequence[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    things = _unique(thing_names or ())
    groups = _unique(group_names or ())
    if not things and not groups:
        raise InvalidRequest("targets must name at least one thing or thing group")
    if len(things) > MAX_THING_TARGETS:
        raise InvalidRequest(f"targets.thingNames may name at most {MAX_THING_TARGETS} things")
    if len(groups) > MAX_GROUP_TARGETS:
        raise InvalidRequest(f"targets.thingGroupNames may name at most {MAX_GROUP_TARGETS} groups")
    for name in things:
        if not NAME_PATTERN.match(name):
            raise InvalidRequest(f"targets.thingNames: '{name}' is not a valid thing name")
    for name in groups:
        if not NAME_PATTERN.match(name):
            raise InvalidRequest(f"targets.thingGroupNames: '{name}' is not a valid thing group name")
    return things, groups


def abort_criterion(
    *, failure_type: str, action: str, threshold_percentage: Any, min_executed_things: int
) -> AbortCriterion:
    try:
        kind = FailureType(failure_type)
    except ValueError as exc:
        raise InvalidRequest("failureType must be FAILED, REJECTED, TIMED_OUT or ALL") from exc
    if action != "CANCEL":
        raise InvalidRequest("action must be CANCEL")
    if isinstance(threshold_percentage, bool) or not isinstance(threshold_percentage, int | float):
        raise InvalidRequest("thresholdPercentage must be a number")
    try:
        threshold = Decimal(str(threshold_percentage))
    except InvalidOperation as exc:  # pragma: no cover - str() of an int or float is always a number
        raise InvalidRequest("thresholdPercentage must be a number") from exc
    if not threshold.is_finite() or not 0 < threshold <= 100:
        raise InvalidRequest("thresholdPercentage must be greater than 0 and at most 100")
    if threshold != threshold.quantize(Decimal("0.01")):
        raise InvalidRequest("thresholdPercentage may have at most two digits after the decimal point")
    if min_executed_things < 1:
        raise InvalidRequest("minNumberOfExecutedThings must be at least 1")
    return AbortCriterion(kind, threshold.normalize(), min_executed_things)


def new_job(spec: JobSpec, now: int, *, creating: bool = False) -> Job:
    return Job(
        spec=spec,
        uid=uuid.uuid4().hex,
        status=JobStatus.IN_PROGRESS,
        created_at=now,
        last_updated_at=now,
        counts=dict.fromkeys(ExecutionStatus, 0),
        creating=creating,
    )


def abort_reason(job: Job) -> str | None:
    """The comment of the abort the job's counts call for, or None (also when the job is not running)."""
    if job.status is not JobStatus.IN_PROGRESS:
        return None
    executed = sum(job.counts.get(s, 0) for s in EXECUTED)
    for criterion in job.spec.abort_criteria:
        if criterion.fires(job.counts):
            failed = sum(job.counts.get(s, 0) for s in criterion.failure_type.statuses)
            return (
                f"Aborted: {failed} of {executed} executed things ended {criterion.failure_type.value}, "
                f"reaching the {criterion.threshold_percentage}% threshold"
            )
    return None


def cancel_reason(reason_code: str | None, comment: str | None) -> None:
    if reason_code is not None and not REASON_CODE_PATTERN.match(reason_code):
        raise InvalidRequest("reasonCode must be 1-128 characters of A-Z, 0-9 and '_'")
    if comment is not None and (not 1 <= len(comment) <= MAX_COMMENT or has_control(comment)):
        raise InvalidRequest(f"comment must be 1-{MAX_COMMENT} characters without control characters")


def check_job_id(job_id: Any, *, allow_next: bool = False) -> str:
    if allow_next and job_id == NEXT:
        return job_id
    if not isinstance(job_id, str) or not JOB_ID_PATTERN.match(job_id):
        raise InvalidRequest("jobId must be 1-64 characters of letters, digits, '_' or '-'")
    return job_id


# --------------------------------------------------------------------------- executions
@dataclass(frozen=True)
class Target:
    """A thing a job reaches, and how: named directly and/or through groups."""

    thing: Thing
    direct: bool
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Execution:
    job: JobRef
    thing: Thing
    status: ExecutionStatus
    version: int  # AWS versionNumber: what the device sees and may expect
    execution_number: int
    queued_at: int  # when the device may first see it (rollout)
    last_updated_at: int
    started_at: int | None = None
    status_details: Mapping[str, str] = field(default_factory=dict)
    step_deadline: int | None = None
    in_progress_deadline: int | None = None
    direct: bool = True
    groups: frozenset[str] = frozenset()  # target groups through which the job reached the thing
    client_token: str | None = None  # of the device update that produced this state
    request_hash: str | None = None  # of that update's fields
    revision: int = 1  # bumped by every stored write; writes are conditional on it

    @property
    def job_id(self) -> str:
        return self.job.job_id

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def pending(self) -> bool:
        return self.status in PENDING

    @property
    def deadline(self) -> int | None:
        """When an IN_PROGRESS execution times out: the earlier of its two timers."""
        if self.status is not ExecutionStatus.IN_PROGRESS:
            return None
        timers = [t for t in (self.step_deadline, self.in_progress_deadline) if t is not None]
        return min(timers) if timers else None

    def visible(self, now: int) -> bool:
        """Whether the device may see it: its rollout time has come."""
        return self.queued_at <= now

    def effective_status(self, now: int) -> ExecutionStatus:
        settled = settle(self, now)
        return settled.status if settled else self.status

    @property
    def order_key(self) -> str:
        """The order devices take pending executions in: IN_PROGRESS first, then by queue time."""
        rank = 0 if self.status is ExecutionStatus.IN_PROGRESS else 1
        return f"{rank}#{self.queued_at:015d}#{self.job_id}"


def visible_until_key(now: int) -> str:
    """The greatest ``order_key`` a device may see at ``now`` (job ids sort before '~')."""
    return f"1#{now:015d}#~"


def plan(job: Job, targets: Sequence[Target], *, first_index: int = 0) -> list[Execution]:
    """The QUEUED executions of a new job's targets, in target order; ``first_index`` is the position of
    the first of them among all the job's targets (for the rollout rate)."""
    rate = job.spec.maximum_per_minute
    return [
        queue(job.ref, target, job.created_at, _rollout(job.created_at, first_index + i, rate))
        for i, target in enumerate(targets)
    ]


def _rollout(created_at: int, index: int, rate: int | None) -> int:
    return created_at if rate is None else created_at + (index // rate) * MINUTE_MS


def queue(ref: JobRef, target: Target, now: int, available_at: int | None = None) -> Execution:
    return Execution(
        job=ref,
        thing=target.thing,
        status=ExecutionStatus.QUEUED,
        version=1,
        execution_number=1,
        queued_at=now if available_at is None else available_at,
        last_updated_at=now,
        direct=target.direct,
        groups=target.groups,
    )


def merge_targets(direct: Iterable[Thing], by_group: Mapping[str, Iterable[Thing]]) -> list[Target]:
    """One target per thing, in order (named things first, then groups' members), each knowing every
    route by which the job reaches it."""
    order: dict[str, Target] = {}
    for thing in direct:
        order.setdefault(thing.id, Target(thing, True))
    for group, members in by_group.items():
        for thing in members:
            known = order.get(thing.id)
            if known is None:
                order[thing.id] = Target(thing, False, frozenset({group}))
            else:
                order[thing.id] = replace(known, groups=known.groups | {group})
    return list(order.values())


def settle(execution: Execution, now: int) -> Execution | None:
    """The TIMED_OUT state an IN_PROGRESS execution has reached at ``now`` without anyone recording it,
    or None when there is nothing to record."""
    deadline = execution.deadline
    if deadline is None or now < deadline:
        return None
    return _by_service(execution, ExecutionStatus.TIMED_OUT, deadline)


def start(execution: Execution, request: StartNextRequest, now: int) -> Execution:
    """StartNextPendingJobExecution on a QUEUED execution: IN_PROGRESS, with the request's details."""
    if execution.status is not ExecutionStatus.QUEUED:
        raise InvalidStateTransition(f"Job execution {execution.job_id} is {execution.status}, not QUEUED")
    started = _started(execution, now)
    return replace(
        started,
        status=ExecutionStatus.IN_PROGRESS,
        status_details=(
            execution.status_details if request.status_details is None else dict(request.status_details)
        ),
        step_deadline=None if request.step_timeout is None else now + request.step_timeout * MINUTE_MS,
        version=execution.version + 1,
        last_updated_at=now,
        client_token=None,
        request_hash=None,
        revision=execution.revision + 1,
    )


def update(execution: Execution, request: UpdateRequest, now: int) -> Execution:
    """UpdateJobExecution by the device, on an execution already ``settle``d at ``now``."""
    check_execution_number(execution, request.execution_number)
    if execution.terminal:
        raise InvalidStateTransition(
            f"Job execution {execution.job_id} of thing '{execution.thing.name}' is {execution.status} "
            f"and can no longer be updated",
            details={"executionState": execution},
        )
    if request.expected_version is not None and request.expected_version != execution.version:
        raise VersionMismatch(
            f"expectedVersion {request.expected_version} does not match versionNumber {execution.version}",
            details={"executionState": execution},
        )
    changed = replace(
        execution,
        status=request.status,
        status_details=(
            execution.status_details if request.status_details is None else dict(request.status_details)
        ),
        version=execution.version + 1,
        last_updated_at=now,
        client_token=request.client_token,
        request_hash=request.fingerprint,
        revision=execution.revision + 1,
    )
    if request.status is ExecutionStatus.IN_PROGRESS:
        if execution.status is ExecutionStatus.QUEUED:
            changed = _started(changed, now)
        if request.step_timeout == CLEAR_STEP_TIMER:
            changed = replace(changed, step_deadline=None)
        elif request.step_timeout is not None:
            changed = replace(changed, step_deadline=now + request.step_timeout * MINUTE_MS)
    return changed


def replays(execution: Execution, request: UpdateRequest) -> bool:
    """Whether ``request`` repeats the update that produced the execution's current state."""
    return (
        request.client_token is not None
        and execution.client_token == request.client_token
        and execution.request_hash == request.fingerprint
    )


def cancel(execution: Execution, now: int, *, force: bool) -> Execution | None:
    """The execution once its job is canceled: QUEUED ones always, IN_PROGRESS ones only with ``force``;
    None when it stays as it is."""
    if execution.status is ExecutionStatus.QUEUED or (
        force and execution.status is ExecutionStatus.IN_PROGRESS
    ):
        return _by_service(execution, ExecutionStatus.CANCELED, now)
    return None


def joined(execution: Execution, group: str, now: int) -> Execution | None:
    """The execution once its thing joins ``group``, a target of its CONTINUOUS job: a REMOVED one is
    queued again as a new execution (``executionNumber`` + 1); any other one only learns the new route.
    None when nothing changes."""
    if execution.status is ExecutionStatus.REMOVED:
        return Execution(
            job=execution.job,
            thing=execution.thing,
            status=ExecutionStatus.QUEUED,
            version=1,
            execution_number=execution.execution_number + 1,
            queued_at=now,
            last_updated_at=now,
            direct=False,
            groups=frozenset({group}),
            revision=execution.revision + 1,
        )
    return with_routes(execution, False, frozenset({group}))


def with_routes(execution: Execution, direct: bool, groups: frozenset[str]) -> Execution | None:
    """The execution knowing more routes by which its job reaches the thing; None when it knew them."""
    if (execution.direct or not direct) and groups <= execution.groups:
        return None
    return replace(
        execution,
        direct=execution.direct or direct,
        groups=execution.groups | groups,
        revision=execution.revision + 1,
    )


def left(execution: Execution, group: str, now: int) -> Execution | None:
    """The execution once its thing leaves ``group``: REMOVED when it is QUEUED and that group was the
    only way the job reached the thing; otherwise it only forgets the route. None when nothing changes."""
    if group not in execution.groups:
        return None
    groups = execution.groups - {group}
    if execution.status is ExecutionStatus.QUEUED and not groups and not execution.direct:
        return replace(_by_service(execution, ExecutionStatus.REMOVED, now), groups=groups)
    return replace(execution, groups=groups, revision=execution.revision + 1)


def forget(execution: Execution, now: int) -> Execution | None:
    """The execution once its thing is deleted: a pending one is REMOVED (so that its job can still
    complete); None for an ended one."""
    return _by_service(execution, ExecutionStatus.REMOVED, now) if execution.pending else None


def check_execution_number(execution: Execution, number: int | None) -> None:
    if number is not None and number != execution.execution_number:
        raise NotFound(
            f"Job execution {number} of job '{execution.job_id}' not found for thing '{execution.thing.name}'"
        )


def next_pending(executions: Iterable[Execution], now: int) -> Execution | None:
    """What a device takes next at ``now``: the first IN_PROGRESS execution, else the first QUEUED one
    by queue time; timed-out and not-yet-rolled-out ones are skipped."""
    candidates = [e for e in executions if e.pending and e.visible(now) and settle(e, now) is None]
    return min(candidates, key=lambda e: e.order_key, default=None)


def _started(execution: Execution, now: int) -> Execution:
    timeout = execution.job.in_progress_timeout_minutes
    return replace(
        execution,
        started_at=now,
        in_progress_deadline=None if timeout is None else now + timeout * MINUTE_MS,
    )


def _by_service(execution: Execution, status: ExecutionStatus, at: int) -> Execution:
    return replace(
        execution,
        status=status,
        version=execution.version + 1,
        last_updated_at=at,
        client_token=None,
        request_hash=None,
        revision=execution.revision + 1,
    )


# --------------------------------------------------------------------------- device requests
@dataclass(frozen=True)
class StartNextRequest:
    status_details: Mapping[str, str] | None = None
    step_timeout: int | None = None
    client_token: str | None = None


@dataclass(frozen=True)
class DescribeRequest:
    execution_number: int | None = None
    include_document: bool = True
    client_token: str | None = None


@dataclass(frozen=True)
class UpdateRequest:
    status: ExecutionStatus
    status_details: Mapping[str, str] | None = None
    expected_version: int | None = None
    execution_number: int | None = None
    include_state: bool = False
    include_document: bool = False
    step_timeout: int | None = None
    client_token: str | None = None

    @property
    def fingerprint(self) -> str:
        """What makes two updates the same update (the answer flags do not change the state)."""
        fields = {
            "status": self.status.value,
            "statusDetails": dict(sorted(self.status_details.items())) if self.status_details else None,
            "expectedVersion": self.expected_version,
            "executionNumber": self.execution_number,
            "stepTimeoutInMinutes": self.step_timeout,
        }
        return hashlib.sha256(dumps(fields).encode()).hexdigest()[:32]


def has_control(text: str) -> bool:
    return any(unicodedata.category(c).startswith("C") for c in text)


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
