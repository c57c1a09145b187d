"""Jobs use cases: the operator creates, reads, lists and cancels jobs; devices list, start, describe and
update their executions; thing groups tell the engine when a thing joins or leaves a group.

This module imports no other use-case module (groups and devices call it, never the reverse).

Rules are in ``fleetgate.domain.jobs``; this module reads, applies a rule, and writes conditionally,
reading again when another writer got there first (``fleetgate.retry.on_conflict``, then 503).

- Every status change of an execution moves the job's per-status counters in the same transaction.
  After a change to SUCCEEDED, FAILED, REJECTED or TIMED_OUT, one more call either completes a SNAPSHOT
  job (when nothing is pending) or returns the job's counters, against which abort criteria are checked.
- Time-outs are recorded lazily and persistently, by whoever reads the execution first: device requests,
  and the operator's describe/list (which find timed-out executions through the ``ByJobAndDeadline``
  index) — no scheduler.
- Cancelling (and aborting) marks the job first, then cancels its executions one conditional
  transaction each, for at most ``SWEEP_SECONDS``. Until that sweep reaches an execution, a device may
  still *see* it QUEUED, but can never start it: moving out of QUEUED is conditional on the job still
  running, and a device that tries cancels it on the way. Reading the job (``get``) resumes an
  unfinished sweep.
- Devices read a job's document once per warm container: documents never change, and the cache is
  keyed by the job's random ``uid``, never by its id alone.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from fleetgate import clock
from fleetgate.data.devices import DeviceRepository
from fleetgate.data.groups import GroupRepository
from fleetgate.data.jobs import Guard, JobGuardFailed, JobsRepository, StaleExecution
from fleetgate.domain import jobs as rules
from fleetgate.domain.devices import Thing, check_thing_name
from fleetgate.domain.groups import check_name as check_group_name
from fleetgate.domain.jobs import (
    ABORTED,
    EXECUTED,
    FAILURES,
    DescribeRequest,
    Execution,
    ExecutionStatus,
    Job,
    JobRef,
    JobSpec,
    JobStatus,
    StartNextRequest,
    Target,
    UpdateRequest,
)
from fleetgate.domain.paging import check_limit
from fleetgate.errors import FleetgateError, InvalidRequest, InvalidStateTransition, NotFound
from fleetgate.retry import on_conflict
from fleetgate.settings import get_settings

T = TypeVar("T")
THING_BUSY = "The thing's job executions are being changed by many writers; retry the request"
FIRST_TRANSACTION_ITEMS = 100
SWEEP_SECONDS = 5.0  # a cancel or an abort cancels executions inline for at most this long
DOCUMENT_CACHE_SIZE = 64

_documents: OrderedDict[str, dict[str, Any]] = OrderedDict()


def _repo() -> JobsRepository:
    return JobsRepository(get_settings().require("jobs_table"))


def _thing_named(name: str) -> Thing:
    """A target thing by name (the registry read ``services.devices.thing_named`` makes; this engine
    sits below the device and group use cases, which call it, so it reads the repositories itself)."""
    check_thing_name(name)
    return DeviceRepository(get_settings().require("devices_table")).thing_named(name)


def _members(group: str) -> list[Thing]:
    """Every member of a target group (``NotFound`` for an unknown group)."""
    check_group_name(group)
    repo = GroupRepository(get_settings().require("devices_table"))
    repo.get(group)
    return repo.members(group)


def _now(now: int | None) -> int:
    return clock.now_ms() if now is None else now


# --------------------------------------------------------------------------- operator
def create(spec: JobSpec, now: int | None = None) -> Job:
    """Create a job and one QUEUED execution per target thing. Unknown things or groups are 404 and
    nothing is written. A CONTINUOUS job registers with its groups *before* their members are read
    again, so a thing joining meanwhile is reached either way (``thing_joined_group``)."""
    at = _now(now)
    direct = [_thing_named(name) for name in spec.thing_names]
    members = {name: _members(name) for name in spec.group_names}
    targets = rules.merge_targets(direct, members)
    job = rules.new_job(spec, at)
    executions = rules.plan(job, targets)
    room = FIRST_TRANSACTION_ITEMS - 1 - (len(spec.group_names) if spec.continuous else 0)
    first, rest = executions[:room], executions[room:]
    counts = {**job.counts, ExecutionStatus.QUEUED: len(first)}
    job = replace(job, counts=counts, creating=bool(rest) and not spec.continuous)
    if not executions and not spec.continuous:
        job = replace(job, status=JobStatus.COMPLETED, completed_at=at)
    repo = _repo()
    repo.create(job, first)
    try:
        for planned in repo.add(job.id, rest):  # a thing that joined a group meanwhile (CONTINUOUS)
            _change(planned.thing.id, job.id, _adding_routes_of(planned))
    except JobGuardFailed:
        pass  # canceled while being created: the rest is not to be run
    finally:
        if job.creating:  # even after a failure: a job stuck "creating" could never complete
            repo.finish_creating(job.id)
    if spec.continuous:
        _reconcile(job.ref, members, at)
    elif job.creating:
        _after_terminal(job.ref, failure=False, now=at)
    return repo.get(job.id) or job


def _adding_routes_of(planned: Execution) -> Callable[[Execution], Execution | None]:
    return lambda execution: rules.with_routes(execution, planned.direct, planned.groups)


def _reconcile(ref: JobRef, before: dict[str, list[Thing]], now: int) -> None:
    """Members that joined or left a CONTINUOUS job's groups between the first read and the job's
    registration with them: neither path saw them, so apply the change now."""
    for group, old in before.items():
        new = _members(group)
        old_ids = {t.id for t in old}
        new_ids = {t.id for t in new}
        for thing in new:
            if thing.id not in old_ids:
                _join(ref, thing, group, now)
        for thing in old:
            if thing.id not in new_ids:
                _leave(ref, thing, group, now)


def get(job_id: str, now: int | None = None) -> Job:
    """The job, after recording what is due: time-outs, an unfinished cancel, a missed completion or
    abort."""
    rules.check_job_id(job_id)
    job = _repo().get(job_id)
    if job is None:
        raise NotFound(f"Job '{job_id}' not found")
    return _refresh(job, _now(now))


def list_page(limit: int, next_token: str | None, now: int | None = None) -> tuple[list[Job], str | None]:
    """Jobs, newest first (each brought up to date as ``get`` does)."""
    check_limit(limit)
    jobs, token = _repo().list_page(limit, next_token)
    at = _now(now)
    return [_refresh(job, at) for job in jobs], token


def cancel(
    job_id: str,
    *,
    force: bool = False,
    reason_code: str | None = None,
    comment: str | None = None,
    now: int | None = None,
) -> Job:
    """Cancel a job: its QUEUED executions (and with ``force`` its IN_PROGRESS ones) become CANCELED.
    409 for a COMPLETED job. Cancelling a canceled job again is allowed: it finishes an interrupted
    sweep, and ``force`` then reaches the IN_PROGRESS executions too."""
    rules.check_job_id(job_id)
    rules.cancel_reason(reason_code, comment)
    at = _now(now)
    repo = _repo()
    job = repo.cancel(job_id, force=force, reason_code=reason_code, comment=comment, now=at)
    if job.spec.continuous:
        repo.forget_group_targets(job.id, job.spec.group_names)
    _sweep(job, at)
    return repo.get(job_id) or job


def executions_page(
    job_id: str, status: str | None, limit: int, next_token: str | None, now: int | None = None
) -> tuple[list[Execution], str | None]:
    """A job's executions by thing name, optionally of one ``status``; time-outs found are recorded."""
    rules.check_job_id(job_id)
    check_limit(limit)
    wanted = None
    if status is not None:
        try:
            wanted = ExecutionStatus(status)
        except ValueError as exc:
            raise InvalidRequest(f"status must be one of {', '.join(ExecutionStatus)}") from exc
    repo = _repo()
    if repo.get(job_id) is None:
        raise NotFound(f"Job '{job_id}' not found")
    page, token = repo.executions_page(job_id, wanted, limit, next_token)
    at = _now(now)
    return [_settled(e, at) for e in page], token


# --------------------------------------------------------------------------- device
def pending(thing: Thing, now: int | None = None) -> tuple[list[Execution], list[Execution]]:
    """GetPendingJobExecutions: the thing's IN_PROGRESS executions, then its QUEUED ones in queue order;
    executions not rolled out yet are invisible, timed-out ones are recorded and left out."""
    at = _now(now)
    live = [e for e in _pending(thing, at) if e.pending]
    return (
        [e for e in live if e.status is ExecutionStatus.IN_PROGRESS],
        [e for e in live if e.status is ExecutionStatus.QUEUED],
    )


def start_next(
    thing: Thing, request: StartNextRequest, now: int | None = None
) -> tuple[Execution, dict[str, Any]] | None:
    """StartNextPendingJobExecution: the thing's IN_PROGRESS execution unchanged (the request's
    ``statusDetails`` are not applied), else its first QUEUED one moved to IN_PROGRESS; None when
    nothing is pending. Returns the execution and its job's document."""

    def attempt() -> tuple[Execution, dict[str, Any]] | None:
        at = _now(now)
        for execution in _pending(thing, at):
            if execution.status is ExecutionStatus.IN_PROGRESS:
                return execution, _document(execution.job)
            if execution.status is not ExecutionStatus.QUEUED:
                continue
            started = rules.start(execution, request, at)
            try:
                _write(execution, started, Guard.ACTIVE)
            except JobGuardFailed:
                _cancel_for_stopped_job(execution, at)
                continue
            return started, _document(started.job)
        return None

    return _retrying(attempt, THING_BUSY)


def describe(
    thing: Thing, job_id: str, request: DescribeRequest, now: int | None = None
) -> tuple[Execution, dict[str, Any] | None] | None:
    """DescribeJobExecution; ``$next`` is the execution ``start-next`` would return (None when there is
    none). 404 for a job the thing has no (visible) execution of, or another ``executionNumber``."""
    at = _now(now)
    if job_id == rules.NEXT:
        found = next((e for e in _pending(thing, at) if e.pending), None)
        if found is None:
            return None
    else:
        found = _visible(thing, job_id, at, request.client_token)
        rules.check_execution_number(found, request.execution_number)
        found = _settled(found, at)
    return found, _document(found.job) if request.include_document else None


def update(
    thing: Thing, job_id: str, request: UpdateRequest, now: int | None = None
) -> tuple[Execution, dict[str, Any] | None]:
    """UpdateJobExecution. A retry of the update that produced the current state (same clientToken and
    fields) is answered again without a change. Returns the execution and, if asked, the document."""

    def attempt() -> tuple[Execution, dict[str, Any] | None]:
        at = _now(now)
        execution = _settled(_visible(thing, job_id, at, request.client_token), at, strict=True)
        if rules.replays(execution, request):
            return execution, _document(execution.job) if request.include_document else None
        try:
            changed = rules.update(execution, request, at)
        except FleetgateError as exc:
            raise _answered(exc, request.client_token, at) from None
        guard = Guard.ACTIVE if execution.status is ExecutionStatus.QUEUED else Guard.NOT_FORCED
        try:
            _write(execution, changed, guard)
        except JobGuardFailed:
            canceled = _cancel_for_stopped_job(execution, at)
            raise _answered(
                InvalidStateTransition(
                    f"Job '{job_id}' was canceled; its execution can no longer be updated",
                    details={"executionState": canceled or execution},
                ),
                request.client_token,
                at,
            ) from None
        return changed, _document(changed.job) if request.include_document else None

    return _retrying(attempt, "The job execution is being changed by many writers; retry the update")


# --------------------------------------------------------------------------- thing groups
def thing_joined_group(thing: Thing, group_name: str, now: int | None = None) -> None:
    """Every running CONTINUOUS job that targets ``group_name`` reaches ``thing``: a new QUEUED execution
    when it has none (or a REMOVED one), else the execution learns the new route."""
    at = _now(now)
    for ref in _repo().group_jobs(group_name):
        _join(ref, thing, group_name, at)


def thing_left_group(thing: Thing, group_name: str, now: int | None = None) -> None:
    """QUEUED executions of CONTINUOUS jobs that reached ``thing`` only through ``group_name`` become
    REMOVED; the others forget the route (an IN_PROGRESS one keeps running)."""
    at = _now(now)
    for ref in _repo().group_jobs(group_name):
        _leave(ref, thing, group_name, at)


def group_deleted(group_name: str, members: list[Thing], now: int | None = None) -> None:
    """A deleted group no longer targets anything: its members leave it (as ``thing_left_group``) and
    its CONTINUOUS jobs forget it, so a new group of the same name is not a target of old jobs."""
    at = _now(now)
    repo = _repo()
    refs = repo.group_jobs(group_name)
    for ref in refs:
        for thing in members:
            _leave(ref, thing, group_name, at)
        repo.forget_group_targets(ref.job_id, [group_name])


def thing_deleted(thing: Thing, now: int | None = None) -> None:
    """The deleted thing's QUEUED and IN_PROGRESS executions become REMOVED, so their SNAPSHOT jobs can
    still complete (to be called when a device is deleted)."""
    at = _now(now)
    for execution in _repo().pending(thing.id, rules.visible_until_key(rules.FOREVER)):
        _change(thing.id, execution.job_id, lambda e: rules.forget(e, at), first=execution)


def _join(ref: JobRef, thing: Thing, group: str, now: int) -> None:
    repo = _repo()

    def attempt() -> None:
        execution = repo.execution(thing.id, ref.job_id)
        try:
            if execution is None:
                new = rules.queue(ref, Target(thing, False, frozenset({group})), now)
                if repo.add(ref.job_id, [new]):
                    raise StaleExecution("created meanwhile by someone else: apply the join to that one")
                return
            changed = rules.joined(execution, group, now)
            if changed is not None:
                guard = Guard.ACTIVE if changed.status is not execution.status else Guard.NONE
                _write(execution, changed, guard)
        except JobGuardFailed:
            return  # the job no longer runs: nothing to queue

    _retrying(attempt, THING_BUSY)


def _leave(ref: JobRef, thing: Thing, group: str, now: int) -> None:
    _change(thing.id, ref.job_id, lambda e: rules.left(e, group, now))


# --------------------------------------------------------------------------- engine
def _pending(thing: Thing, now: int) -> list[Execution]:
    """The thing's visible pending executions in order, with the timed-out ones recorded (and returned
    TIMED_OUT, which callers skip)."""
    return [_settled(e, now) for e in _repo().pending(thing.id, rules.visible_until_key(now))]


def _visible(thing: Thing, job_id: str, now: int, client_token: str | None) -> Execution:
    execution = _repo().execution(thing.id, job_id)
    if execution is None or not execution.visible(now):
        raise _answered(
            NotFound(f"No execution of job '{job_id}' for thing '{thing.name}'"), client_token, now
        )
    return execution


def _settled(execution: Execution, now: int, *, strict: bool = False) -> Execution:
    """The execution with its time-out recorded if it is due. A concurrent change is ignored (the
    returned state is then what the time-out would have been) unless ``strict``."""
    timed_out = rules.settle(execution, now)
    if timed_out is None:
        return execution
    try:
        _write(execution, timed_out, Guard.NONE)
    except StaleExecution:
        if strict:
            raise
    return timed_out


def _write(old: Execution, new: Execution, guard: Guard) -> None:
    """Store a change, then do what a change to an executed status calls for (completion, abort)."""
    _repo().write(old, new, guard)
    if new.status is not old.status and (new.status in EXECUTED or new.status is ExecutionStatus.REMOVED):
        _after_terminal(new.job, failure=new.status in FAILURES, now=new.last_updated_at)


def _after_terminal(ref: JobRef, *, failure: bool, now: int) -> None:
    check_abort = failure and ref.abortable
    if ref.continuous and not check_abort:
        return
    repo = _repo()
    if not ref.continuous:
        completed, job = repo.complete_if_done(ref.job_id, now)
        if completed or job is None:
            return
    else:
        job = repo.get(ref.job_id)
    if check_abort and job is not None:
        _abort_if_due(job, now)


def _abort_if_due(job: Job, now: int) -> None:
    reason = rules.abort_reason(job)
    if reason is None:
        return
    repo = _repo()
    aborted = repo.abort(job.id, reason, now, ABORTED)
    if aborted is None:
        return
    if aborted.spec.continuous:
        repo.forget_group_targets(aborted.id, aborted.spec.group_names)
    _sweep(aborted, now)


def _sweep(job: Job, now: int) -> bool:
    """Cancel a canceled job's QUEUED executions (and IN_PROGRESS ones when it was force-canceled) for
    at most ``SWEEP_SECONDS``; whether it finished."""
    statuses = [ExecutionStatus.QUEUED] + ([ExecutionStatus.IN_PROGRESS] if job.force_canceled else [])
    stop = time.monotonic() + SWEEP_SECONDS
    for execution in _repo().executions_with_status(job.id, statuses):
        if time.monotonic() > stop:
            return False
        _change(
            execution.thing.id,
            job.id,
            lambda e: rules.cancel(e, now, force=job.force_canceled),
            first=execution,
        )
    return True


def _cancel_for_stopped_job(execution: Execution, now: int) -> Execution | None:
    """A device found the job stopped while moving ``execution``: cancel it on the sweep's behalf."""
    return _change(
        execution.thing.id, execution.job_id, lambda e: rules.cancel(e, now, force=True), first=execution
    )


def _change(
    device_id: str,
    job_id: str,
    change: Callable[[Execution], Execution | None],
    *,
    first: Execution | None = None,
) -> Execution | None:
    """Apply a service change to an execution, reading it again when another writer got there first.
    Returns the stored result (None when there is no execution or nothing to change)."""
    repo = _repo()
    given = first  # what the first attempt may start from; later attempts read again

    def attempt() -> Execution | None:
        nonlocal given
        execution, given = given, None
        if execution is None:
            execution = repo.execution(device_id, job_id)
            if execution is None:
                return None
        changed = change(execution)
        if changed is None:
            return None
        _write(execution, changed, Guard.NONE)
        return changed

    return _retrying(attempt, "The job execution is being changed by many writers; retry the request")


def _retrying(attempt: Callable[[], T], busy: str) -> T:
    """``attempt()``, read and tried again while another writer changes the executions it read."""
    return on_conflict(attempt, retry_on=(StaleExecution,), busy=busy)


def _refresh(job: Job, now: int) -> Job:
    """Record what is due on a job that an operator reads."""
    repo = _repo()
    changed = False
    if job.counts.get(ExecutionStatus.IN_PROGRESS, 0) > 0:
        for execution in repo.timed_out(job.id, now):
            fresh = repo.execution(execution.thing.id, job.id)
            if fresh is not None and rules.settle(fresh, now) is not None:
                _settled(fresh, now)
                changed = True
    if changed:
        job = repo.get(job.id) or job
    if job.status is JobStatus.CANCELED and (
        job.counts.get(ExecutionStatus.QUEUED, 0) > 0
        or (job.force_canceled and job.counts.get(ExecutionStatus.IN_PROGRESS, 0) > 0)
    ):
        _sweep(job, now)
        changed = True
    elif job.status is JobStatus.IN_PROGRESS:
        if job.complete:
            repo.complete_if_done(job.id, now)
            changed = True
        elif rules.abort_reason(job) is not None:
            _abort_if_due(job, now)
            changed = True
    return (repo.get(job.id) or job) if changed else job


def _document(ref: JobRef) -> dict[str, Any]:
    cached = _documents.get(ref.uid)
    if cached is not None:
        _documents.move_to_end(ref.uid)
        return cached
    found = _repo().document(ref.job_id)
    if found is None:
        raise NotFound(f"Job '{ref.job_id}' not found")
    uid, document = found
    if uid == ref.uid:
        _documents[uid] = document
        while len(_documents) > DOCUMENT_CACHE_SIZE:
            _documents.popitem(last=False)
    return document


def _answered(exc: FleetgateError, client_token: str | None, now: int) -> FleetgateError:
    """``exc`` with what every jobs answer carries (AWS's ErrorResponse): ``clientToken`` and
    ``timestamp``."""
    exc.details.setdefault("timestamp", now // 1000)  # epoch seconds
    if client_token is not None:
        exc.details.setdefault("clientToken", client_token)
    return exc


def _check_limit(limit: int) -> None:
    check_limit(limit)
