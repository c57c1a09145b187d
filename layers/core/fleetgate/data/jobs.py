"""Jobs and job executions in DynamoDB (``JOBS_TABLE``).

- ``JOB#<jobId>``/``JOB``: the job: its configuration, status, and one counter per execution status
  (``cnt_<STATUS>``). ``kind=job`` + ``createdAt`` put jobs (only) in the sparse ``ByKindAndCreatedAt``
  index, newest first.
- ``THING#<deviceId>``/``JOB#<jobId>``: the thing's execution of the job, carrying what devices need of
  the job (``jobUid``, timeout, flags) so device requests never read the job item. ``jobId`` +
  ``thingName`` put executions (only) in the ``ByJob`` index.
  - ``pendingKey`` (``0#<queuedAt>#<jobId>`` IN_PROGRESS, ``1#…`` QUEUED) exists only while pending:
    the thing's local ``ByPending`` index lists, with strong consistency, what a device may take, in
    the order it takes it, and a key condition hides what is not rolled out yet.
  - ``deadlineAt`` exists only on an IN_PROGRESS execution with a timer: the ``ByJobAndDeadline``
    index finds a job's executions that have timed out without anyone recording it.
- ``GROUP#<name>``/``JOB#<jobId>``: a CONTINUOUS job targets group ``name`` (one Query tells which jobs a
  thing joining or leaving the group concerns), with the job's ``JobRef``.

Every execution write is conditional on its ``revision``. A write that changes the status is one
transaction with the job's counters (and, for a device's move out of QUEUED or IN_PROGRESS, a condition
on the job: still running, not force-canceled), so the counters always match the executions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from fleetgate.data.aws import PageKey, client, n, query_page, s, translate, translated_errors, write_batches
from fleetgate.domain.devices import Thing
from fleetgate.domain.jobs import (
    AbortCriterion,
    Execution,
    ExecutionStatus,
    FailureType,
    Job,
    JobRef,
    JobSpec,
    JobStatus,
    TargetSelection,
)
from fleetgate.errors import Conflict, NotFound, Retryable
from fleetgate.jsonutil import dumps
from fleetgate.retry import ATTEMPTS, backoff

JOB_SK = "JOB"
KIND = "job"
PENDING_INDEX = "ByPending"
JOB_INDEX = "ByJob"
DEADLINE_INDEX = "ByJobAndDeadline"
CREATED_INDEX = "ByKindAndCreatedAt"
MAX_TRANSACTION_ITEMS = 100
MAX_PAGE_SIZE = 100


class StaleExecution(Conflict):
    """The execution changed since it was read (or another transaction held it): read it again."""


class JobGuardFailed(Conflict):
    """The job no longer allows the change: it stopped running (canceled) or was force-canceled."""


class Guard(Enum):
    """What a status-changing execution write requires of its job."""

    NONE = "attribute_exists(pk)"
    ACTIVE = "#jobStatus = :running"  # a device moves an execution out of QUEUED
    NOT_FORCED = "attribute_not_exists(forceCanceled)"  # a device moves an execution out of IN_PROGRESS


def _count(status: ExecutionStatus) -> str:
    return f"cnt_{status.value}"


# --------------------------------------------------------------------------- keys and items
def job_key(job_id: str) -> dict[str, Any]:
    return {"pk": s(f"JOB#{job_id}"), "sk": s(JOB_SK)}


def execution_key(device_id: str, job_id: str) -> dict[str, Any]:
    return {"pk": s(f"THING#{device_id}"), "sk": s(f"JOB#{job_id}")}


def group_key(group: str, job_id: str) -> dict[str, Any]:
    return {"pk": s(f"GROUP#{group}"), "sk": s(f"JOB#{job_id}")}


def _job_item(job: Job) -> dict[str, Any]:
    spec = job.spec
    item: dict[str, Any] = {
        **job_key(job.id),
        "kind": s(KIND),
        "createdAt": n(job.created_at),
        "id": s(job.id),
        "uid": s(job.uid),
        "status": s(job.status.value),
        "document": s(dumps(spec.document)),
        "targetSelection": s(spec.target_selection.value),
        "thingNames": {"L": [s(name) for name in spec.thing_names]},
        "groupNames": {"L": [s(name) for name in spec.group_names]},
        "lastUpdatedAt": n(job.last_updated_at),
    }
    item.update({_count(status): n(job.counts.get(status, 0)) for status in ExecutionStatus})
    optional = {
        "description": s(spec.description) if spec.description is not None else None,
        "maximumPerMinute": n(spec.maximum_per_minute) if spec.maximum_per_minute is not None else None,
        "inProgressTimeout": (
            n(spec.in_progress_timeout_minutes) if spec.in_progress_timeout_minutes is not None else None
        ),
        "abortCriteria": s(_criteria_json(spec.abort_criteria)) if spec.abort_criteria else None,
        "completedAt": n(job.completed_at) if job.completed_at is not None else None,
        "reasonCode": s(job.reason_code) if job.reason_code is not None else None,
        "comment": s(job.comment) if job.comment is not None else None,
        "forceCanceled": {"BOOL": True} if job.force_canceled else None,
        "creating": {"BOOL": True} if job.creating else None,
    }
    item.update({k: v for k, v in optional.items() if v is not None})
    return item


def _criteria_json(criteria: Sequence[AbortCriterion]) -> str:
    return dumps(
        [
            {
                "failureType": c.failure_type.value,
                "thresholdPercentage": str(c.threshold_percentage),
                "minNumberOfExecutedThings": c.min_executed_things,
            }
            for c in criteria
        ]
    )


def _job_from(item: dict[str, Any]) -> Job:
    def number(name: str) -> int | None:
        return int(item[name]["N"]) if name in item else None

    criteria = tuple(
        AbortCriterion(
            FailureType(c["failureType"]), Decimal(c["thresholdPercentage"]), c["minNumberOfExecutedThings"]
        )
        for c in json.loads(item["abortCriteria"]["S"] if "abortCriteria" in item else "[]")
    )
    spec = JobSpec(
        job_id=item["id"]["S"],
        document=json.loads(item["document"]["S"]),
        thing_names=tuple(v["S"] for v in item["thingNames"]["L"]),
        group_names=tuple(v["S"] for v in item["groupNames"]["L"]),
        target_selection=TargetSelection(item["targetSelection"]["S"]),
        description=item["description"]["S"] if "description" in item else None,
        maximum_per_minute=number("maximumPerMinute"),
        abort_criteria=criteria,
        in_progress_timeout_minutes=number("inProgressTimeout"),
    )
    return Job(
        spec=spec,
        uid=item["uid"]["S"],
        status=JobStatus(item["status"]["S"]),
        created_at=int(item["createdAt"]["N"]),
        last_updated_at=int(item["lastUpdatedAt"]["N"]),
        counts={status: int(item.get(_count(status), {"N": "0"})["N"]) for status in ExecutionStatus},
        completed_at=number("completedAt"),
        reason_code=item["reasonCode"]["S"] if "reasonCode" in item else None,
        comment=item["comment"]["S"] if "comment" in item else None,
        force_canceled="forceCanceled" in item,
        creating="creating" in item,
    )


def _ref_attributes(ref: JobRef) -> dict[str, Any]:
    out: dict[str, Any] = {
        "jobUid": s(ref.uid),
        "continuous": {"BOOL": ref.continuous},
        "abortable": {"BOOL": ref.abortable},
    }
    if ref.in_progress_timeout_minutes is not None:
        out["inProgressTimeout"] = n(ref.in_progress_timeout_minutes)
    return out


def _ref_from(item: dict[str, Any], job_id: str) -> JobRef:
    return JobRef(
        job_id=job_id,
        uid=item["jobUid"]["S"],
        continuous=item["continuous"]["BOOL"],
        abortable=item["abortable"]["BOOL"],
        in_progress_timeout_minutes=int(item["inProgressTimeout"]["N"])
        if "inProgressTimeout" in item
        else None,
    )


def _execution_item(e: Execution) -> dict[str, Any]:
    item: dict[str, Any] = {
        **execution_key(e.thing.id, e.job_id),
        "jobId": s(e.job_id),
        "thingName": s(e.thing.name),
        "deviceId": s(e.thing.id),
        **_ref_attributes(e.job),
        "status": s(e.status.value),
        "versionNumber": n(e.version),
        "executionNumber": n(e.execution_number),
        "queuedAt": n(e.queued_at),
        "lastUpdatedAt": n(e.last_updated_at),
        "direct": {"BOOL": e.direct},
        "revision": n(e.revision),
    }
    if e.pending:
        item["pendingKey"] = s(e.order_key)
    if e.deadline is not None:
        item["deadlineAt"] = n(e.deadline)
    if e.status_details:
        item["statusDetails"] = {"M": {k: s(v) for k, v in e.status_details.items()}}
    if e.groups:
        item["groups"] = {"SS": sorted(e.groups)}
    optional = {
        "startedAt": n(e.started_at) if e.started_at is not None else None,
        "stepDeadline": n(e.step_deadline) if e.step_deadline is not None else None,
        "inProgressDeadline": n(e.in_progress_deadline) if e.in_progress_deadline is not None else None,
        "clientToken": s(e.client_token) if e.client_token is not None else None,
        "requestHash": s(e.request_hash) if e.request_hash is not None else None,
    }
    item.update({k: v for k, v in optional.items() if v is not None})
    return item


def _execution_from(item: dict[str, Any]) -> Execution:
    def number(name: str) -> int | None:
        return int(item[name]["N"]) if name in item else None

    job_id = item["jobId"]["S"]
    return Execution(
        job=_ref_from(item, job_id),
        thing=Thing(item["deviceId"]["S"], item["thingName"]["S"]),
        status=ExecutionStatus(item["status"]["S"]),
        version=int(item["versionNumber"]["N"]),
        execution_number=int(item["executionNumber"]["N"]),
        queued_at=int(item["queuedAt"]["N"]),
        last_updated_at=int(item["lastUpdatedAt"]["N"]),
        started_at=number("startedAt"),
        status_details={k: v["S"] for k, v in item.get("statusDetails", {}).get("M", {}).items()},
        step_deadline=number("stepDeadline"),
        in_progress_deadline=number("inProgressDeadline"),
        direct=item["direct"]["BOOL"],
        groups=frozenset(item.get("groups", {}).get("SS", [])),
        client_token=item["clientToken"]["S"] if "clientToken" in item else None,
        request_hash=item["requestHash"]["S"] if "requestHash" in item else None,
        revision=int(item["revision"]["N"]),
    )


# --------------------------------------------------------------------------- repository
class JobsRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    # ------------------------------------------------------------------ jobs
    def create(self, job: Job, first: Sequence[Execution]) -> None:
        """The job, its group index items (CONTINUOUS) and its first executions, in one transaction;
        ``Conflict`` when a job with that id exists. ``job.counts`` must already count ``first``."""
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": _job_item(job),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        if job.spec.continuous:
            ref = _ref_attributes(job.ref)
            items += [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {**group_key(g, job.id), "continuousJobId": s(job.id), **ref},
                    }
                }
                for g in job.spec.group_names
            ]
        items += [self._new_execution(e) for e in first]
        if len(items) > MAX_TRANSACTION_ITEMS:
            raise ValueError("a job's first transaction holds at most 100 items")
        codes = self._transact(items)
        if codes is None:
            return
        if codes and codes[0] == "ConditionalCheckFailed":
            raise Conflict(f"A job with id '{job.id}' already exists")
        raise Retryable("The job could not be created because of concurrent changes; retry the request")

    def add(self, job_id: str, executions: Sequence[Execution]) -> list[Execution]:
        """Write new QUEUED executions of a running job (chunks of 99, each with the job's QUEUED counter).
        Returns the executions skipped because the thing already has one; ``JobGuardFailed`` when the job
        stopped running."""
        existing: list[Execution] = []
        pending = list(executions)
        attempt = 0
        while pending:
            chunk = pending[: MAX_TRANSACTION_ITEMS - 1]
            items = [self._new_execution(e) for e in chunk]
            items.append(self._counter_update(job_id, None, ExecutionStatus.QUEUED, len(chunk), Guard.ACTIVE))
            codes = self._transact(items)
            if codes is None:
                pending = pending[len(chunk) :]
                attempt = 0
                continue
            if codes[-1] == "ConditionalCheckFailed":
                raise JobGuardFailed(f"Job '{job_id}' is no longer running")
            taken = {i for i, code in enumerate(codes[:-1]) if code == "ConditionalCheckFailed"}
            existing += [chunk[i] for i in sorted(taken)]
            pending = [e for i, e in enumerate(chunk) if i not in taken] + pending[len(chunk) :]
            if not taken:
                attempt += 1
                if attempt >= ATTEMPTS:
                    raise Retryable("The job is being changed by many writers; retry the request")
                backoff(attempt)
        return existing

    def finish_creating(self, job_id: str) -> Job:
        with translated_errors():
            item = client("dynamodb").update_item(
                TableName=self.table,
                Key=job_key(job_id),
                UpdateExpression="REMOVE creating",
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_NEW",
            )["Attributes"]
        return _job_from(item)

    def get(self, job_id: str) -> Job | None:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=job_key(job_id), ConsistentRead=True)
                .get("Item")
            )
        return _job_from(item) if item else None

    def document(self, job_id: str) -> tuple[str, dict[str, Any]] | None:
        """The job's uid and document (the only part of a job devices read)."""
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(
                    TableName=self.table,
                    Key=job_key(job_id),
                    ProjectionExpression="uid, document",
                )
                .get("Item")
            )
        if not item:
            return None
        return item["uid"]["S"], json.loads(item["document"]["S"])

    def list_page(self, limit: int, next_token: str | None) -> tuple[list[Job], str | None]:
        """Jobs, newest first."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": CREATED_INDEX,
            "KeyConditionExpression": "kind = :kind",
            "ExpressionAttributeValues": {":kind": s(KIND)},
            "ScanIndexForward": False,
            "Limit": min(limit, MAX_PAGE_SIZE),
        }
        key = PageKey({"pk": "S", "sk": "S", "kind": "S", "createdAt": "N"}, ("kind", KIND))
        items, token = query_page(params, next_token, key)
        return [_job_from(i) for i in items], token

    def cancel(
        self, job_id: str, *, force: bool, reason_code: str | None, comment: str | None, now: int
    ) -> Job:
        """Mark the job CANCELED (again, for a canceled one: ``force`` and a new reason still apply).
        ``NotFound`` for an unknown job, ``Conflict`` for a COMPLETED one."""
        sets = [
            "#status = :canceled",
            "lastUpdatedAt = :now",
            "completedAt = if_not_exists(completedAt, :now)",
        ]
        values: dict[str, Any] = {
            ":canceled": s(JobStatus.CANCELED.value),
            ":completed": s(JobStatus.COMPLETED.value),
            ":now": n(now),
        }
        if force:
            sets.append("forceCanceled = :true")
            values[":true"] = {"BOOL": True}
        if reason_code is not None:
            sets.append("reasonCode = :reason")
            values[":reason"] = s(reason_code)
        if comment is not None:
            sets.append("#comment = :comment")
            values[":comment"] = s(comment)
        item, old = self._update_job(
            Key=job_key(job_id),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk) AND #status <> :completed",
            ExpressionAttributeNames={
                "#status": "status",
                **({"#comment": "comment"} if comment is not None else {}),
            },
            ExpressionAttributeValues=values,
        )
        if item is None:
            if old is None:
                raise NotFound(f"Job '{job_id}' not found")
            raise Conflict(f"Job '{job_id}' is COMPLETED and cannot be canceled")
        return _job_from(item)

    def complete_if_done(self, job_id: str, now: int) -> tuple[bool, Job | None]:
        """Mark a SNAPSHOT job COMPLETED if none of its executions is pending any more. Returns whether
        it did, and the job as it is (one call either way: a failed condition returns the item)."""
        item, old = self._update_job(
            Key=job_key(job_id),
            UpdateExpression="SET #status = :completed, completedAt = :now, lastUpdatedAt = :now",
            ConditionExpression=(
                "#status = :running AND targetSelection = :snapshot AND attribute_not_exists(creating) "
                "AND #queued = :zero AND #inProgress = :zero"
            ),
            ExpressionAttributeNames={
                "#status": "status",
                "#queued": _count(ExecutionStatus.QUEUED),
                "#inProgress": _count(ExecutionStatus.IN_PROGRESS),
            },
            ExpressionAttributeValues={
                ":completed": s(JobStatus.COMPLETED.value),
                ":running": s(JobStatus.IN_PROGRESS.value),
                ":snapshot": s(TargetSelection.SNAPSHOT.value),
                ":zero": n(0),
                ":now": n(now),
            },
        )
        if item is None:
            return False, _job_from(old) if old else None
        return True, _job_from(item)

    def abort(self, job_id: str, comment: str, now: int, reason_code: str) -> Job | None:
        """Cancel a running job because its abort criteria fired; None when it was not running."""
        item, _ = self._update_job(
            Key=job_key(job_id),
            UpdateExpression=(
                "SET #status = :canceled, reasonCode = :reason, #comment = :comment, "
                "completedAt = :now, lastUpdatedAt = :now"
            ),
            ConditionExpression="#status = :running",
            ExpressionAttributeNames={"#status": "status", "#comment": "comment"},
            ExpressionAttributeValues={
                ":canceled": s(JobStatus.CANCELED.value),
                ":running": s(JobStatus.IN_PROGRESS.value),
                ":reason": s(reason_code),
                ":comment": s(comment),
                ":now": n(now),
            },
        )
        return None if item is None else _job_from(item)

    def _update_job(self, **params: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """A conditional UpdateItem of a job: ``(the updated item, None)``, or, when the condition
        failed, ``(None, the item as it was)`` (None when there is none), read by the same call."""
        try:
            updated = client("dynamodb").update_item(
                TableName=self.table,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **params,
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise translate(exc) from exc
            return None, exc.response.get("Item")
        return updated["Attributes"], None

    def group_jobs(self, group: str) -> list[JobRef]:
        """The CONTINUOUS jobs that target ``group`` (possibly some that ended since)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :job)",
            "ExpressionAttributeValues": {":pk": s(f"GROUP#{group}"), ":job": s("JOB#")},
            "ConsistentRead": True,
        }
        return [_ref_from(item, item["continuousJobId"]["S"]) for item in self._query_all(params)]

    def forget_group_targets(self, job_id: str, groups: Sequence[str]) -> None:
        """Drop a finished CONTINUOUS job from its groups' index (best effort: a stale entry only costs
        a failed conditional write when a thing joins)."""
        write_batches(self.table, [{"DeleteRequest": {"Key": group_key(g, job_id)}} for g in groups])

    # ------------------------------------------------------------------ executions
    def execution(self, device_id: str, job_id: str) -> Execution | None:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=execution_key(device_id, job_id), ConsistentRead=True)
                .get("Item")
            )
        return _execution_from(item) if item else None

    def pending(self, device_id: str, up_to: str) -> list[Execution]:
        """The thing's QUEUED and IN_PROGRESS executions whose order key is at most ``up_to``, in order."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": PENDING_INDEX,
            "KeyConditionExpression": "pk = :pk AND pendingKey <= :upTo",
            "ExpressionAttributeValues": {":pk": s(f"THING#{device_id}"), ":upTo": s(up_to)},
            "ConsistentRead": True,
        }
        return [_execution_from(item) for item in self._query_all(params)]

    def write(self, old: Execution, new: Execution, guard: Guard = Guard.NONE) -> None:
        """Replace ``old`` by ``new`` if it is unchanged (``StaleExecution`` otherwise); a status change
        moves the job's counters in the same transaction, conditional on ``guard``
        (``JobGuardFailed``)."""
        put = {
            "TableName": self.table,
            "Item": _execution_item(new),
            "ConditionExpression": "revision = :revision",
            "ExpressionAttributeValues": {":revision": n(old.revision)},
        }
        if old.status is new.status:
            try:
                client("dynamodb").put_item(**put)
            except ClientError as exc:
                if _code(exc) in ("ConditionalCheckFailedException", "TransactionConflictException"):
                    raise StaleExecution("The job execution was changed concurrently") from exc
                raise translate(exc) from exc
            return
        codes = self._transact(
            [
                {"Put": put},
                self._counter_update(new.job_id, old.status, new.status, 1, guard, now=new.last_updated_at),
            ]
        )
        if codes is None:
            return
        if codes[1] == "ConditionalCheckFailed":
            raise JobGuardFailed(f"Job '{new.job_id}' no longer allows this change")
        raise StaleExecution("The job execution was changed concurrently")

    def executions_page(
        self, job_id: str, status: ExecutionStatus | None, limit: int, next_token: str | None
    ) -> tuple[list[Execution], str | None]:
        """A job's executions by thing name (eventually consistent), optionally of one status."""
        params = self._by_job(job_id, [status] if status else None)
        params["Limit"] = min(limit, MAX_PAGE_SIZE)
        key = PageKey({"pk": "S", "sk": "S", "jobId": "S", "thingName": "S"}, ("jobId", job_id))
        items, token = query_page(params, next_token, key)
        return [_execution_from(i) for i in items], token

    def executions_with_status(self, job_id: str, statuses: Sequence[ExecutionStatus]) -> Iterator[Execution]:
        """A job's executions of some statuses, read page by page as the caller goes (eventually
        consistent)."""
        for item in self._pages(self._by_job(job_id, statuses)):
            yield _execution_from(item)

    def timed_out(self, job_id: str, now: int) -> list[Execution]:
        """The job's IN_PROGRESS executions whose deadline has passed (eventually consistent)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": DEADLINE_INDEX,
            "KeyConditionExpression": "jobId = :job AND deadlineAt <= :now",
            "ExpressionAttributeValues": {":job": s(job_id), ":now": n(now)},
        }
        return [_execution_from(item) for item in self._query_all(params)]

    # ------------------------------------------------------------------ helpers
    def _new_execution(self, e: Execution) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": _execution_item(e),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _counter_update(
        self,
        job_id: str,
        source: ExecutionStatus | None,
        target: ExecutionStatus,
        amount: int,
        guard: Guard,
        *,
        now: int | None = None,
    ) -> dict[str, Any]:
        names = {"#to": _count(target)}
        values: dict[str, Any] = {":add": n(amount)}
        adds = ["#to :add"]
        if source is not None:
            names["#from"] = _count(source)
            values[":sub"] = n(-amount)
            adds.append("#from :sub")
        expression = "ADD " + ", ".join(adds)
        if now is not None:
            expression += " SET lastUpdatedAt = :now"
            values[":now"] = n(now)
        if guard is Guard.ACTIVE:
            names["#jobStatus"] = "status"
            values[":running"] = s(JobStatus.IN_PROGRESS.value)
        return {
            "Update": {
                "TableName": self.table,
                "Key": job_key(job_id),
                "UpdateExpression": expression,
                "ConditionExpression": f"attribute_exists(pk) AND {guard.value}"
                if guard is not Guard.NONE
                else guard.value,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Run a transaction: None when it committed, else the per-item cancellation codes."""
        try:
            client("dynamodb").transact_write_items(TransactItems=items)
        except ClientError as exc:
            code = _code(exc)
            if code == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons") or []
                return [r.get("Code", "None") for r in reasons] or ["None"] * len(items)
            if code == "TransactionConflictException":
                return ["TransactionConflict"] * len(items)
            raise translate(exc) from exc
        return None

    def _by_job(self, job_id: str, statuses: Sequence[ExecutionStatus] | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": JOB_INDEX,
            "KeyConditionExpression": "jobId = :job",
            "ExpressionAttributeValues": {":job": s(job_id)},
        }
        if statuses:
            names = [f":s{i}" for i in range(len(statuses))]
            params["FilterExpression"] = f"#status IN ({', '.join(names)})"
            params["ExpressionAttributeNames"] = {"#status": "status"}
            params["ExpressionAttributeValues"].update(
                {k: s(v.value) for k, v in zip(names, statuses, strict=True)}
            )
        return params

    def _query_all(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self._pages(params))

    def _pages(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        params = dict(params)
        while True:
            with translated_errors():
                page = client("dynamodb").query(**params)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
