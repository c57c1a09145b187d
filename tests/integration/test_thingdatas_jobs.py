"""ThingDatas jobs through the functions, in process against moto: the operator's ``/manage/v1/jobs`` and
the devices' ``/api/v1/thing-datas/jobs/...`` (AWS IoT Jobs semantics, docs/thingdatas.md
"Jobs"), with the Fleets seed's own bodies; time is injected (``fleetgate.clock.now_ms``), never slept."""

from __future__ import annotations

import base64
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from fleetgate import clock
from fleetgate.domain import jobs as rules
from fleetgate.domain.devices import Thing
from fleetgate.services import jobs as jobs_service
from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import (
    Stack,
    create_api_key,
    create_device,
    event,
    td_call,
    td_event,
    with_body,
    with_query,
)

JOBS = "ManageJobsFunction"
GROUPS = "ManageThingGroupsFunction"
GET_PENDING = "TdPostJobsGetFunction"
START_NEXT = "TdPostJobsStartNextFunction"
DESCRIBE = "TdPostJobGetFunction"
UPDATE = "TdPostJobUpdateFunction"
SEED_JOB = "firmware-2-0-0"
THING = "thermostat-001"
MIN = 60_000


# --------------------------------------------------------------------------- helpers
class FakeClock:
    def __init__(self, start: int) -> None:
        self.now = start

    def advance(self, ms: int) -> None:
        self.now += ms


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """``fleetgate.clock.now_ms`` under the test's control (the jobs engine reads time only there)."""
    fake = FakeClock(clock.now_ms())
    monkeypatch.setattr(clock, "now_ms", lambda: fake.now)
    return fake


@pytest.fixture
def thing(stack: Stack) -> Thing:
    device = create_device(stack, THING)
    return Thing(device.id, THING)


def readdressed(source: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    text = json.dumps(source).replace(f"/{old}", f"/{new}").replace(f'"{old}"', f'"{new}"')
    return dict(json.loads(text))


def operator(
    stack: Stack,
    name: str,
    *,
    job_id: str | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    ev = event(f"manage/{name}")
    if job_id is not None:
        ev = readdressed(ev, SEED_JOB, job_id)
    if body is not None:
        ev = with_body(ev, body if isinstance(body, str) else json.dumps(body))
    if query is not None:
        ev = with_query(ev, query)
    response = stack.invoke(JOBS, ev)
    return response["statusCode"], json.loads(response["body"])


def create_job(
    stack: Stack, job_id: str, things: list[str] | None = None, groups: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    body = {
        "jobId": job_id,
        "document": {"operation": "install", "version": job_id},
        "targets": {"thingNames": things or [], "thingGroupNames": groups or []},
        **extra,
    }
    status, answer = operator(stack, "create_job", body=body)
    assert status == 201, answer
    return dict(answer["data"])


def read_job(stack: Stack, job_id: str) -> dict[str, Any]:
    status, body = operator(stack, "get_job", job_id=job_id)
    assert status == 200, body
    return dict(body["data"])


def executions(stack: Stack, job_id: str, **query: str) -> dict[str, dict[str, Any]]:
    status, body = operator(stack, "list_job_executions", job_id=job_id, query=query or None)
    assert status == 200, body
    return {e["thingName"]: e for e in body["data"]}


def group_call(stack: Stack, name: str, group: str, thing_name: str | None = None) -> None:
    ev = event(f"manage/{name}")
    if name == "create_thing_group":
        ev = with_body(ev, json.dumps({"name": group}))
    else:
        ev = readdressed(ev, "thermostats", group)
        if thing_name is not None:
            ev = readdressed(ev, THING, thing_name)
    response = stack.invoke(GROUPS, ev)
    assert response["statusCode"] in (200, 201, 204), response


def make_group(stack: Stack, group: str, *members: str) -> None:
    group_call(stack, "create_thing_group", group)
    for member in members:
        group_call(stack, "add_thing_to_group", group, member)


def device(stack: Stack, function: str, name: str, auth: str, body: Any, **path: str) -> tuple[int, Any]:
    return td_call(stack, function, name, auth, body, **path)


def pending(stack: Stack, auth: str, thing_name: str = THING) -> dict[str, Any]:
    status, body = device(stack, GET_PENDING, "post_jobs_get", auth, {"thingName": thing_name})
    assert status == 200, body
    return dict(body)


def pending_ids(stack: Stack, auth: str, thing_name: str = THING) -> tuple[list[str], list[str]]:
    body = pending(stack, auth, thing_name)
    return [j["jobId"] for j in body["inProgressJobs"]], [j["jobId"] for j in body["queuedJobs"]]


def start_next(stack: Stack, auth: str, thing_name: str = THING, **body: Any) -> tuple[int, Any]:
    return device(stack, START_NEXT, "post_jobs_start_next", auth, {"thingName": thing_name, **body})


def describe(stack: Stack, auth: str, job_id: str, thing_name: str = THING, **body: Any) -> tuple[int, Any]:
    return device(stack, DESCRIBE, "post_job_get", auth, {"thingName": thing_name, **body}, jobId=job_id)


def update(stack: Stack, auth: str, job_id: str, thing_name: str = THING, **body: Any) -> tuple[int, Any]:
    return device(stack, UPDATE, "post_job_update", auth, {"thingName": thing_name, **body}, jobId=job_id)


def stored_job(stack: Stack, job_id: str) -> dict[str, Any]:
    """The job item as stored, read around the operator API (whose reads also repair what is due)."""
    item = boto3.client("dynamodb").get_item(
        TableName=stack.table("JobsTable"), Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}
    )["Item"]
    return {"status": item["status"]["S"], "reasonCode": item.get("reasonCode", {}).get("S")}


def jobs_table(stack: Stack) -> list[str]:
    """Every item of the jobs table, comparable: to assert that nothing was written."""
    scan = boto3.client("dynamodb").scan(TableName=stack.table("JobsTable"))
    return sorted(json.dumps(item, sort_keys=True) for item in scan["Items"])


# --------------------------------------------------------------------------- the seed
def test_the_seed_bodies_list_and_finish_a_real_job(stack: Stack, auth: str, thing: Thing) -> None:
    make_group(stack, "thermostats", THING)
    status, created = operator(stack, "create_job")  # events/manage/create_job.json as it is
    assert status == 201, created
    assert created["data"]["executionCounts"]["QUEUED"] == 1  # named and in the group: one execution

    status, listed = td_call(stack, GET_PENDING, "post_jobs_get", auth)  # the seed's body verbatim
    assert status == 200, listed
    assert listed["clientToken"] == "req-1"
    assert isinstance(listed["timestamp"], int)
    assert listed["inProgressJobs"] == []
    [summary] = listed["queuedJobs"]
    assert summary == {
        "jobId": SEED_JOB,
        "queuedAt": summary["queuedAt"],
        "lastUpdatedAt": summary["queuedAt"],
        "versionNumber": 1,
        "executionNumber": 1,
    }

    status, updated = td_call(stack, UPDATE, "post_job_update", auth)  # SUCCEEDED, expectedVersion 1
    assert status == 200, updated
    assert updated == {"timestamp": updated["timestamp"], "clientToken": "req-3"}

    job = read_job(stack, SEED_JOB)
    assert job["status"] == "COMPLETED"
    assert job["executionCounts"]["SUCCEEDED"] == 1 and job["executionCounts"]["QUEUED"] == 0
    done = executions(stack, SEED_JOB)[THING]
    assert (done["status"], done["versionNumber"], done["statusDetails"]) == (
        "SUCCEEDED",
        2,
        {"installedVersion": "2.0.0"},
    )
    assert pending(stack, auth)["queuedJobs"] == []


def test_a_retried_update_gets_the_same_answer_and_changes_nothing(
    stack: Stack, auth: str, thing: Thing
) -> None:
    create_job(stack, SEED_JOB, [THING])
    first = td_call(stack, UPDATE, "post_job_update", auth)
    before = jobs_table(stack)

    again = td_call(stack, UPDATE, "post_job_update", auth)  # the seed's body once more: same clientToken

    assert again == first
    assert jobs_table(stack) == before
    with_state = {
        "thingName": THING,
        "status": "SUCCEEDED",
        "statusDetails": {"installedVersion": "2.0.0"},
        "expectedVersion": 1,
        "clientToken": "req-3",
        "includeJobExecutionState": True,
    }
    status, body = td_call(stack, UPDATE, "post_job_update", auth, with_state)
    assert status == 200
    assert body["executionState"] == {
        "status": "SUCCEEDED",
        "statusDetails": {"installedVersion": "2.0.0"},
        "versionNumber": 2,
    }


def test_the_same_client_token_with_other_fields_is_a_new_update(
    stack: Stack, auth: str, thing: Thing
) -> None:
    create_job(stack, SEED_JOB, [THING])
    assert td_call(stack, UPDATE, "post_job_update", auth)[0] == 200

    status, body = update(stack, auth, SEED_JOB, status="FAILED", clientToken="req-3")

    assert status == 409
    assert body["code"] == "InvalidStateTransition"
    assert body["executionState"]["status"] == "SUCCEEDED"
    assert body["clientToken"] == "req-3"


def test_a_retry_after_a_time_out_is_answered_with_the_time_out(
    stack: Stack, auth: str, thing: Thing, fake_clock: FakeClock
) -> None:
    create_job(stack, "j1", [THING])
    request = {"status": "IN_PROGRESS", "stepTimeoutInMinutes": 1, "clientToken": "tok"}
    assert update(stack, auth, "j1", **request)[0] == 200
    fake_clock.advance(MIN)

    status, body = update(stack, auth, "j1", **request)

    assert status == 409
    assert body["executionState"]["status"] == "TIMED_OUT"


# --------------------------------------------------------------------------- start-next and describe
def test_start_next_with_nothing_pending_has_no_execution(stack: Stack, auth: str, thing: Thing) -> None:
    status, body = td_call(stack, START_NEXT, "post_jobs_start_next", auth)  # the event's body
    assert status == 200
    assert body == {"timestamp": body["timestamp"], "clientToken": "req-2"}


def test_start_next_takes_queue_order_and_returns_a_running_one_unchanged(
    stack: Stack, auth: str, thing: Thing, fake_clock: FakeClock
) -> None:
    create_job(stack, "first", [THING])
    fake_clock.advance(1000)
    create_job(stack, "second", [THING])
    fake_clock.advance(1000)

    status, started = start_next(stack, auth, statusDetails={"step": "download"}, stepTimeoutInMinutes=5)
    assert status == 200, started
    execution = started["execution"]
    assert execution["jobId"] == "first"
    assert execution["status"] == "IN_PROGRESS"
    assert execution["versionNumber"] == 2
    assert execution["statusDetails"] == {"step": "download"}
    assert execution["startedAt"] == fake_clock.now // 1000
    assert execution["approximateSecondsBeforeTimedOut"] == 300
    assert execution["jobDocument"] == {"operation": "install", "version": "first"}

    status, again = start_next(stack, auth, statusDetails={"step": "other"})
    assert again["execution"]["jobId"] == "first"
    assert again["execution"]["versionNumber"] == 2  # unchanged
    assert again["execution"]["statusDetails"] == {"step": "download"}  # not applied
    assert pending_ids(stack, auth) == (["first"], ["second"])


def test_describe_returns_the_execution_with_its_document_by_default(
    stack: Stack, auth: str, thing: Thing
) -> None:
    create_job(stack, SEED_JOB, [THING])

    status, body = td_call(stack, DESCRIBE, "post_job_get", auth)  # the event's body: clientToken req-4
    assert status == 200, body
    assert body["clientToken"] == "req-4"
    assert body["execution"]["status"] == "QUEUED"
    assert body["execution"]["jobDocument"] == {"operation": "install", "version": SEED_JOB}

    status, lean = describe(stack, auth, SEED_JOB, includeJobDocument=False, executionNumber=1)
    assert status == 200
    assert "jobDocument" not in lean["execution"]


def test_describe_next_is_what_start_next_would_take(stack: Stack, auth: str, thing: Thing) -> None:
    status, none = describe(stack, auth, "$next")
    assert status == 200 and "execution" not in none
    create_job(stack, "a", [THING])

    status, body = describe(stack, auth, "$next")

    assert body["execution"]["jobId"] == "a"
    assert body["execution"]["status"] == "QUEUED"  # described, not started


def test_describe_of_an_unknown_job_or_execution_number_is_404(stack: Stack, auth: str, thing: Thing) -> None:
    create_job(stack, "a", [THING])
    status, body = describe(stack, auth, "nope", clientToken="c1")
    assert status == 404
    assert body["code"] == "ResourceNotFound"
    assert body["clientToken"] == "c1"
    assert describe(stack, auth, "a", executionNumber=2)[0] == 404


def test_another_things_key_cannot_reach_its_executions(stack: Stack, thing: Thing) -> None:
    create_device(stack, "other-thing")
    create_job(stack, "a", [THING])
    scoped = create_api_key(stack, thing_names=["other-thing"])
    before = jobs_table(stack)

    assert update(stack, scoped, "a", status="SUCCEEDED")[0] == 403
    assert update(stack, scoped, "a", "other-thing", status="SUCCEEDED")[0] == 404
    assert jobs_table(stack) == before


# --------------------------------------------------------------------------- update
def test_update_checks_the_expected_version(stack: Stack, auth: str, thing: Thing) -> None:
    create_job(stack, "a", [THING])
    before = jobs_table(stack)

    status, body = update(stack, auth, "a", status="IN_PROGRESS", expectedVersion=7, clientToken="c")

    assert status == 409
    assert body["code"] == "VersionMismatch"
    assert body["executionState"] == {"status": "QUEUED", "versionNumber": 1}
    assert body["clientToken"] == "c" and isinstance(body["timestamp"], int)
    assert jobs_table(stack) == before


def test_update_answers_with_state_and_document_when_asked(stack: Stack, auth: str, thing: Thing) -> None:
    create_job(stack, "a", [THING])

    status, body = update(
        stack,
        auth,
        "a",
        status="IN_PROGRESS",
        statusDetails={"progress": "10%"},
        includeJobExecutionState=True,
        includeJobDocument=True,
    )

    assert status == 200, body
    assert body["executionState"] == {
        "status": "IN_PROGRESS",
        "statusDetails": {"progress": "10%"},
        "versionNumber": 2,
    }
    assert body["jobDocument"] == {"operation": "install", "version": "a"}
    assert "clientToken" not in body


def test_progress_updates_bump_the_version_and_keep_details_unless_given(
    stack: Stack, auth: str, thing: Thing
) -> None:
    create_job(stack, "a", [THING])
    update(stack, auth, "a", status="IN_PROGRESS", statusDetails={"progress": "10%"})
    update(stack, auth, "a", status="IN_PROGRESS")
    status, body = update(
        stack, auth, "a", status="IN_PROGRESS", expectedVersion=3, includeJobExecutionState=True
    )
    assert status == 200
    assert body["executionState"] == {
        "status": "IN_PROGRESS",
        "statusDetails": {"progress": "10%"},
        "versionNumber": 4,
    }
    assert read_job(stack, "a")["executionCounts"]["IN_PROGRESS"] == 1


def test_a_device_cannot_set_service_statuses(stack: Stack, auth: str, thing: Thing) -> None:
    create_job(stack, "a", [THING])
    before = jobs_table(stack)
    for status_name in ("QUEUED", "TIMED_OUT", "REMOVED", "CANCELED"):
        status, body = update(stack, auth, "a", status=status_name)
        assert status == 400
        assert body["code"] == "InvalidRequest"
    assert jobs_table(stack) == before


# --------------------------------------------------------------------------- job lifecycle
def test_a_snapshot_job_completes_when_every_execution_ended(stack: Stack, auth: str) -> None:
    for name in ("t1", "t2", "t3"):
        create_device(stack, name)
    create_job(stack, "a", ["t1", "t2", "t3"])

    update(stack, auth, "a", "t1", status="SUCCEEDED")
    update(stack, auth, "a", "t2", status="IN_PROGRESS")
    update(stack, auth, "a", "t3", status="REJECTED")
    assert read_job(stack, "a")["status"] == "IN_PROGRESS"
    update(stack, auth, "a", "t2", status="FAILED")

    assert stored_job(stack, "a")["status"] == "COMPLETED"  # by the last update itself
    job = read_job(stack, "a")
    assert job["status"] == "COMPLETED"
    assert "completedAt" in job
    counts = {k: v for k, v in job["executionCounts"].items() if v}
    assert counts == {"SUCCEEDED": 1, "FAILED": 1, "REJECTED": 1}


def test_reading_a_job_repairs_a_missed_completion_or_abort(stack: Stack, auth: str) -> None:
    for name in ("t1", "t2"):
        create_device(stack, name)
    abort = {
        "criteriaList": [
            {
                "failureType": "ALL",
                "action": "CANCEL",
                "thresholdPercentage": 100,
                "minNumberOfExecutedThings": 1,
            }
        ]
    }
    create_job(stack, "done", ["t1"])
    create_job(stack, "failing", ["t1", "t2"], abortConfig=abort)
    with pytest.MonkeyPatch.context() as patch:  # as if the function died right after its write
        patch.setattr(jobs_service, "_after_terminal", lambda *a, **k: None)
        update(stack, auth, "done", "t1", status="SUCCEEDED")
        update(stack, auth, "failing", "t1", status="FAILED")
    assert stored_job(stack, "done")["status"] == stored_job(stack, "failing")["status"] == "IN_PROGRESS"

    assert read_job(stack, "done")["status"] == "COMPLETED"
    failing = read_job(stack, "failing")
    assert (failing["status"], failing["reasonCode"]) == ("CANCELED", "ABORTED")
    assert failing["executionCounts"]["CANCELED"] == 1


def test_deleting_a_thing_removes_its_pending_executions_so_the_job_can_complete(
    stack: Stack, auth: str
) -> None:
    create_device(stack, "done")
    gone = Thing(create_device(stack, "gone").id, "gone")
    create_job(stack, "a", ["done", "gone"])
    create_job(stack, "b", ["gone"])
    update(stack, auth, "b", "gone", status="IN_PROGRESS")
    update(stack, auth, "a", "done", status="SUCCEEDED")

    deleted = stack.invoke("ManageDevicesFunction", event("manage/delete_device", device_id=gone.id))

    assert deleted["statusCode"] == 204
    assert stored_job(stack, "a")["status"] == stored_job(stack, "b")["status"] == "COMPLETED"
    assert executions(stack, "b")["gone"]["status"] == "REMOVED"
    assert read_job(stack, "a")["executionCounts"]["REMOVED"] == 1


def test_a_snapshot_job_over_an_empty_group_is_complete_at_once(stack: Stack) -> None:
    make_group(stack, "empty")
    assert create_job(stack, "a", groups=["empty"])["status"] == "COMPLETED"


def test_a_large_snapshot_job_is_written_in_chunks_and_still_completes(
    stack: Stack, auth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleetgate.data import jobs as jobs_data  # noqa: PLC0415

    monkeypatch.setattr(jobs_service, "FIRST_TRANSACTION_ITEMS", 4)  # transactions of 4 items, not 100
    monkeypatch.setattr(jobs_data, "MAX_TRANSACTION_ITEMS", 4)
    names = [f"t{i:02d}" for i in range(11)]  # 3 with the job, then 3 + 3 + 2
    things = [Thing(create_device(stack, name).id, name) for name in names]

    with recorded_aws_calls() as calls:
        job = create_job(stack, "big", names)

    assert [c.operation for c in calls].count("TransactWriteItems") == 4
    assert job["status"] == "IN_PROGRESS"
    assert job["executionCounts"]["QUEUED"] == 11
    status, page = operator(stack, "list_job_executions", job_id="big", query={"limit": "6"})
    assert status == 200
    assert [e["thingName"] for e in page["data"]] == names[:6] and "nextToken" in page
    status, rest = operator(
        stack, "list_job_executions", job_id="big", query={"limit": "6", "nextToken": page["nextToken"]}
    )
    assert status == 200
    assert [e["thingName"] for e in rest["data"]] == names[6:] and "nextToken" not in rest
    for target in things:
        update(stack, auth, "big", target.name, status="SUCCEEDED")
    assert read_job(stack, "big")["status"] == "COMPLETED"


def test_continuous_jobs_reach_things_that_join_later(stack: Stack, auth: str) -> None:
    for name in ("early", "late"):
        create_device(stack, name)
    make_group(stack, "fleet", "early")
    create_job(stack, "cont", groups=["fleet"], targetSelection="CONTINUOUS")
    create_job(stack, "snap", groups=["fleet"])

    group_call(stack, "add_thing_to_group", "fleet", "late")

    assert pending_ids(stack, auth, "late") == ([], ["cont"])  # the snapshot job does not reach it
    assert set(executions(stack, "cont")) == {"early", "late"}
    assert read_job(stack, "cont")["executionCounts"]["QUEUED"] == 2


def test_leaving_the_group_removes_a_queued_execution_and_joining_again_requeues_it(
    stack: Stack, auth: str
) -> None:
    create_device(stack, "t1")
    make_group(stack, "fleet", "t1")
    create_job(stack, "cont", groups=["fleet"], targetSelection="CONTINUOUS")

    group_call(stack, "remove_thing_from_group", "fleet", "t1")
    removed = executions(stack, "cont")["t1"]
    assert (removed["status"], removed["versionNumber"]) == ("REMOVED", 2)
    assert pending_ids(stack, auth, "t1") == ([], [])
    assert read_job(stack, "cont")["executionCounts"]["REMOVED"] == 1

    group_call(stack, "add_thing_to_group", "fleet", "t1")
    again = executions(stack, "cont")["t1"]
    assert (again["status"], again["versionNumber"], again["executionNumber"]) == ("QUEUED", 1, 2)
    counts = read_job(stack, "cont")["executionCounts"]
    assert (counts["QUEUED"], counts["REMOVED"]) == (1, 0)
    assert describe(stack, auth, "cont", "t1", executionNumber=1)[0] == 404
    assert describe(stack, auth, "cont", "t1", executionNumber=2)[0] == 200


def test_deleting_a_target_group_removes_what_came_only_through_it_and_a_new_namesake_is_no_target(
    stack: Stack, auth: str
) -> None:
    create_device(stack, "t1")
    create_device(stack, "t2")
    make_group(stack, "fleet", "t1", "t2")
    create_job(stack, "cont", ["t2"], groups=["fleet"], targetSelection="CONTINUOUS")

    group_call(stack, "delete_thing_group", "fleet")

    found = executions(stack, "cont")
    assert found["t1"]["status"] == "REMOVED"
    assert found["t2"]["status"] == "QUEUED"  # also named directly
    make_group(stack, "fleet", "t1")  # a new group that only shares the name
    assert executions(stack, "cont")["t1"]["status"] == "REMOVED"
    assert pending_ids(stack, auth, "t1") == ([], [])


def test_leaving_keeps_executions_still_reached_another_way(stack: Stack, auth: str) -> None:
    for name in ("named", "both", "running"):
        create_device(stack, name)
    make_group(stack, "g1", "named", "both", "running")
    make_group(stack, "g2", "both")
    create_job(stack, "cont", ["named"], ["g1", "g2"], targetSelection="CONTINUOUS")
    update(stack, auth, "cont", "running", status="IN_PROGRESS")

    for name in ("named", "both", "running"):
        group_call(stack, "remove_thing_from_group", "g1", name)

    listed = executions(stack, "cont")
    assert {n: e["status"] for n, e in listed.items()} == {
        "named": "QUEUED",
        "both": "QUEUED",
        "running": "IN_PROGRESS",
    }
    assert listed["both"]["thingGroupNames"] == ["g2"]


def test_thing_joined_group_is_the_engine_entry_point(stack: Stack, auth: str) -> None:
    late = create_device(stack, "late")
    make_group(stack, "fleet")
    create_job(stack, "cont", groups=["fleet"], targetSelection="CONTINUOUS")

    jobs_service.thing_joined_group(Thing(late.id, "late"), "fleet")
    jobs_service.thing_joined_group(Thing(late.id, "late"), "fleet")  # twice: still one execution

    assert pending_ids(stack, auth, "late") == ([], ["cont"])
    assert read_job(stack, "cont")["executionCounts"]["QUEUED"] == 1


def test_a_canceled_continuous_job_reaches_no_one_new(stack: Stack, auth: str) -> None:
    create_device(stack, "late")
    make_group(stack, "fleet")
    create_job(stack, "cont", groups=["fleet"], targetSelection="CONTINUOUS")
    assert operator(stack, "cancel_job", job_id="cont", body={})[0] == 200

    group_call(stack, "add_thing_to_group", "fleet", "late")

    assert pending_ids(stack, auth, "late") == ([], [])
    assert executions(stack, "cont") == {}


# --------------------------------------------------------------------------- cancel
def test_cancel_without_force_leaves_running_executions_running(stack: Stack, auth: str) -> None:
    for name in ("waiting", "running"):
        create_device(stack, name)
    create_job(stack, "a", ["waiting", "running"])
    update(stack, auth, "a", "running", status="IN_PROGRESS")

    status, body = operator(
        stack, "cancel_job", job_id="a", body={"reasonCode": "BAD_BUILD", "comment": "Wrong image"}
    )

    assert status == 200, body
    job = body["data"]
    assert (job["status"], job["reasonCode"], job["comment"]) == ("CANCELED", "BAD_BUILD", "Wrong image")
    assert {k: v for k, v in job["executionCounts"].items() if v} == {"CANCELED": 1, "IN_PROGRESS": 1}
    assert pending_ids(stack, auth, "waiting") == ([], [])
    status, canceled = update(stack, auth, "a", "waiting", status="IN_PROGRESS")
    assert status == 409 and canceled["executionState"]["status"] == "CANCELED"
    status, done = update(stack, auth, "a", "running", status="SUCCEEDED")  # AWS: it may still finish
    assert status == 200, done
    assert read_job(stack, "a")["status"] == "CANCELED"


def test_cancel_with_force_stops_running_executions(stack: Stack, auth: str) -> None:
    create_device(stack, "running")
    create_job(stack, "a", ["running"])
    update(stack, auth, "a", "running", status="IN_PROGRESS")

    status, body = operator(stack, "cancel_job", job_id="a", body={"force": True})

    assert status == 200
    assert body["data"]["forceCanceled"] is True
    assert body["data"]["executionCounts"]["CANCELED"] == 1
    status, refused = update(stack, auth, "a", "running", status="SUCCEEDED")
    assert status == 409
    assert refused["code"] == "InvalidStateTransition"
    assert refused["executionState"]["status"] == "CANCELED"


def test_a_canceled_job_can_be_canceled_again_with_force(stack: Stack, auth: str) -> None:
    create_device(stack, "running")
    create_job(stack, "a", ["running"])
    update(stack, auth, "a", "running", status="IN_PROGRESS")
    operator(stack, "cancel_job", job_id="a")  # the event: force false

    status, body = operator(stack, "cancel_job", job_id="a", body={"force": True})

    assert status == 200
    assert body["data"]["executionCounts"]["CANCELED"] == 1


def test_cancelling_a_completed_or_unknown_job_is_refused(stack: Stack, auth: str, thing: Thing) -> None:
    create_job(stack, SEED_JOB, [THING])
    td_call(stack, UPDATE, "post_job_update", auth)
    before = jobs_table(stack)

    status, body = operator(stack, "cancel_job", job_id=SEED_JOB)
    assert status == 409
    assert "COMPLETED" in body["error"]["message"]
    assert operator(stack, "cancel_job", job_id="unknown")[0] == 404
    assert jobs_table(stack) == before


def test_a_device_that_finds_its_job_canceled_cancels_its_execution(
    stack: Stack, auth: str, thing: Thing
) -> None:
    create_job(stack, "a", [THING])
    table = boto3.client("dynamodb")
    table.update_item(  # the operator's cancel marked the job, its sweep has not reached this thing yet
        TableName=stack.table("JobsTable"),
        Key={"pk": {"S": "JOB#a"}, "sk": {"S": "JOB"}},
        UpdateExpression="SET #s = :c",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "CANCELED"}},
    )
    assert pending_ids(stack, auth) == ([], ["a"])  # still seen QUEUED…

    status, body = start_next(stack, auth)

    assert status == 200 and "execution" not in body  # …but never started
    assert executions(stack, "a")[THING]["status"] == "CANCELED"
    assert read_job(stack, "a")["executionCounts"]["CANCELED"] == 1


# --------------------------------------------------------------------------- timers
def test_the_step_timer_times_an_execution_out_for_devices(
    stack: Stack, auth: str, thing: Thing, fake_clock: FakeClock
) -> None:
    create_job(stack, "a", [THING])
    start_next(stack, auth, stepTimeoutInMinutes=1)
    fake_clock.advance(MIN - 1000)
    assert pending_ids(stack, auth) == (["a"], [])

    fake_clock.advance(1000)

    assert pending_ids(stack, auth) == ([], [])
    timed_out = executions(stack, "a")[THING]
    assert (timed_out["status"], timed_out["versionNumber"]) == ("TIMED_OUT", 3)
    job = read_job(stack, "a")
    assert job["status"] == "COMPLETED" and job["executionCounts"]["TIMED_OUT"] == 1


def test_the_operator_reading_a_job_records_its_time_outs(
    stack: Stack, auth: str, thing: Thing, fake_clock: FakeClock
) -> None:
    create_job(stack, "a", [THING], timeoutConfig={"inProgressTimeoutInMinutes": 2})
    start_next(stack, auth, stepTimeoutInMinutes=10)  # the in-progress timer is the earlier one
    fake_clock.advance(2 * MIN)

    job = read_job(stack, "a")

    assert job["status"] == "COMPLETED"
    assert job["executionCounts"]["TIMED_OUT"] == 1
    status, body = describe(stack, auth, "a")
    assert status == 200
    assert body["execution"]["status"] == "TIMED_OUT"


def test_an_update_past_the_deadline_is_refused_with_the_time_out(
    stack: Stack, auth: str, thing: Thing, fake_clock: FakeClock
) -> None:
    create_job(stack, "a", [THING])
    start_next(stack, auth, stepTimeoutInMinutes=1)
    update(stack, auth, "a", status="IN_PROGRESS", stepTimeoutInMinutes=3)  # reset: 3 minutes from now
    fake_clock.advance(2 * MIN)
    assert update(stack, auth, "a", status="IN_PROGRESS")[0] == 200
    fake_clock.advance(MIN)

    status, body = update(stack, auth, "a", status="SUCCEEDED")

    assert status == 409
    assert body["executionState"]["status"] == "TIMED_OUT"


# --------------------------------------------------------------------------- abort and rollout
def test_abort_criteria_cancel_the_queued_rest_of_a_failing_job(stack: Stack, auth: str) -> None:
    names = ["t1", "t2", "t3", "t4", "t5"]
    for name in names:
        create_device(stack, name)
    abort = {
        "criteriaList": [
            {
                "failureType": "FAILED",
                "action": "CANCEL",
                "thresholdPercentage": 50,
                "minNumberOfExecutedThings": 2,
            }
        ]
    }
    create_job(stack, "a", names, abortConfig=abort)
    update(stack, auth, "a", "t5", status="IN_PROGRESS")

    update(stack, auth, "a", "t1", status="FAILED")  # 1 executed: below the minimum
    assert read_job(stack, "a")["status"] == "IN_PROGRESS"
    update(stack, auth, "a", "t2", status="FAILED")  # 2 of 2 failed

    assert stored_job(stack, "a") == {"status": "CANCELED", "reasonCode": "ABORTED"}  # by that update
    assert pending_ids(stack, auth, "t3") == ([], [])
    job = read_job(stack, "a")
    assert (job["status"], job["reasonCode"]) == ("CANCELED", "ABORTED")
    assert "2 of 2" in job["comment"]
    statuses = {n: e["status"] for n, e in executions(stack, "a").items()}
    assert statuses == {
        "t1": "FAILED",
        "t2": "FAILED",
        "t3": "CANCELED",
        "t4": "CANCELED",
        "t5": "IN_PROGRESS",
    }
    assert update(stack, auth, "a", "t5", status="SUCCEEDED")[0] == 200  # running ones may finish


def test_rollout_hides_executions_until_their_minute(stack: Stack, auth: str, fake_clock: FakeClock) -> None:
    names = ["t1", "t2", "t3"]
    for name in names:
        create_device(stack, name)
    create_job(stack, "a", names, jobExecutionsRolloutConfig={"maximumPerMinute": 1})
    created = fake_clock.now

    assert pending_ids(stack, auth, "t1") == ([], ["a"])
    assert pending_ids(stack, auth, "t3") == ([], [])
    assert update(stack, auth, "a", "t3", status="SUCCEEDED")[0] == 404
    assert "execution" not in start_next(stack, auth, "t3")[1]
    fake_clock.advance(2 * MIN)

    listed = pending(stack, auth, "t3")["queuedJobs"]
    assert [j["queuedAt"] for j in listed] == [(created + 2 * MIN) // 1000]
    assert start_next(stack, auth, "t3")[1]["execution"]["jobId"] == "a"


# --------------------------------------------------------------------------- operator reads
def test_jobs_are_listed_newest_first_page_by_page(stack: Stack, thing: Thing, fake_clock: FakeClock) -> None:
    for job_id in ("one", "two", "three"):
        create_job(stack, job_id, [THING])
        fake_clock.advance(10)

    status, first = operator(stack, "list_jobs", query={"limit": "2"})
    assert status == 200
    assert [j["jobId"] for j in first["data"]] == ["three", "two"]
    assert "document" not in first["data"][0]
    status, rest = operator(stack, "list_jobs", query={"limit": "2", "nextToken": first["nextToken"]})
    assert [j["jobId"] for j in rest["data"]] == ["one"] and "nextToken" not in rest


def test_job_executions_can_be_filtered_by_status(stack: Stack, auth: str) -> None:
    for name in ("t1", "t2"):
        create_device(stack, name)
    create_job(stack, "a", ["t1", "t2"])
    update(stack, auth, "a", "t2", status="IN_PROGRESS")

    assert set(executions(stack, "a", status="QUEUED")) == {"t1"}
    assert set(executions(stack, "a", status="IN_PROGRESS")) == {"t2"}
    assert set(executions(stack, "a")) == {"t1", "t2"}


def test_the_job_description_shows_its_configuration(stack: Stack, thing: Thing) -> None:
    make_group(stack, "fleet")
    abort = {
        "criteriaList": [
            {
                "failureType": "ALL",
                "action": "CANCEL",
                "thresholdPercentage": 12.5,
                "minNumberOfExecutedThings": 4,
            }
        ]
    }
    create_job(
        stack,
        "a",
        [THING],
        ["fleet"],
        description="Firmware",
        targetSelection="CONTINUOUS",
        jobExecutionsRolloutConfig={"maximumPerMinute": 10},
        abortConfig=abort,
        timeoutConfig={"inProgressTimeoutInMinutes": 30},
    )

    job = read_job(stack, "a")

    assert job["description"] == "Firmware"
    assert job["targets"] == {"thingNames": [THING], "thingGroupNames": ["fleet"]}
    assert job["targetSelection"] == "CONTINUOUS"
    assert job["jobExecutionsRolloutConfig"] == {"maximumPerMinute": 10}
    assert job["abortConfig"] == abort
    assert job["timeoutConfig"] == {"inProgressTimeoutInMinutes": 30}
    assert job["document"] == {"operation": "install", "version": "a"}


def test_a_job_id_defaults_to_a_uuid(stack: Stack, thing: Thing) -> None:
    status, body = operator(stack, "create_job", body={"document": {}, "targets": {"thingNames": [THING]}})
    assert status == 201
    assert len(body["data"]["jobId"]) == 36


# --------------------------------------------------------------------------- bad input
# Each table runs in one test (one provisioned mock): every case must leave the jobs table as it was,
# so the cases cannot disturb one another.
ONE_THING: dict[str, Any] = {"thingNames": [THING]}
CRITERION = {
    "failureType": "FAILED",
    "action": "CANCEL",
    "thresholdPercentage": 0,
    "minNumberOfExecutedThings": 1,
}
BAD_JOBS: list[tuple[Any, int]] = [
    ("{not json", 400),
    ("[]", 400),
    ('{"document": NaN, "targets": {"thingNames": ["thermostat-001"]}}', 400),
    ({"targets": ONE_THING}, 400),  # no document
    ({"document": "text", "targets": ONE_THING}, 400),
    ({"document": {"x": "y" * 33_000}, "targets": ONE_THING}, 413),
    ({"document": {}}, 400),  # no targets
    ({"document": {}, "targets": {}}, 400),
    ({"document": {}, "targets": {"thingNames": ["nobody"]}}, 404),
    ({"document": {}, "targets": {"thingNames": [THING], "thingGroupNames": ["no-group"]}}, 404),
    ({"document": {}, "targets": {"thingNames": [THING], "things": []}}, 400),
    ({"document": {}, "targets": {"thingNames": "thermostat-001"}}, 400),
    ({"document": {}, "targets": ONE_THING, "jobId": "bad id"}, 400),
    ({"document": {}, "targets": ONE_THING, "jobId": 5}, 400),
    ({"document": {}, "targets": ONE_THING, "description": "d" * 2029}, 400),
    ({"document": {}, "targets": ONE_THING, "targetSelection": "ONCE"}, 400),
    ({"document": {}, "targets": ONE_THING, "jobExecutionsRolloutConfig": {"maximumPerMinute": 0}}, 400),
    ({"document": {}, "targets": ONE_THING, "timeoutConfig": {"inProgressTimeoutInMinutes": "5"}}, 400),
    ({"document": {}, "targets": ONE_THING, "abortConfig": {"criteriaList": [CRITERION]}}, 400),
    ({"document": {}, "targets": ONE_THING, "abortConfig": {"criteriaList": []}}, 400),
    ({"document": {}, "targets": ONE_THING, "unknown": 1}, 400),
]


def test_bad_jobs_are_refused_and_nothing_is_written(stack: Stack, thing: Thing) -> None:
    before = jobs_table(stack)
    for body, status in BAD_JOBS:
        got, answer = operator(stack, "create_job", body=body)

        assert got == status, (body, answer)
        assert set(answer["error"]) == {"code", "message"} and answer["error"]["message"], body
        assert jobs_table(stack) == before, body


def test_a_duplicate_job_id_is_409_and_changes_nothing(stack: Stack, thing: Thing) -> None:
    create_job(stack, "a", [THING])
    before = jobs_table(stack)

    status, body = operator(
        stack, "create_job", body={"jobId": "a", "document": {"x": 1}, "targets": ONE_THING}
    )

    assert status == 409
    assert "already exists" in body["error"]["message"]
    assert jobs_table(stack) == before


FORGED_TOKEN = base64.urlsafe_b64encode(b'{"pk":{"S":"x"}}').decode()
BAD_OPERATOR_REQUESTS: list[tuple[str, str | None, dict[str, str] | None, Any, int]] = [
    ("get_job", "unknown", None, None, 404),
    ("get_job", "bad$id", None, None, 400),
    ("list_jobs", None, {"limit": "0"}, None, 400),
    ("list_jobs", None, {"limit": "101"}, None, 400),
    ("list_jobs", None, {"limit": "x"}, None, 400),
    ("list_jobs", None, {"nextToken": "garbage"}, None, 400),
    ("list_jobs", None, {"nextToken": FORGED_TOKEN}, None, 400),
    ("list_job_executions", "a", {"status": "DONE"}, None, 400),
    ("list_job_executions", "unknown", None, None, 404),
    ("list_job_executions", "a", {"nextToken": "garbage"}, None, 400),
    ("list_job_executions", "a", {"nextToken": FORGED_TOKEN}, None, 400),
    ("cancel_job", "a", None, {"force": "yes"}, 400),
    ("cancel_job", "a", None, {"reasonCode": "lower case"}, 400),
    ("cancel_job", "a", None, {"comment": ""}, 400),
    ("cancel_job", "a", None, {"forced": True}, 400),
    ("cancel_job", "a", None, "{bad", 400),
    ("cancel_job", "unknown", None, {}, 404),
]


def test_bad_operator_requests_are_4xx_and_write_nothing(stack: Stack, thing: Thing) -> None:
    create_job(stack, "a", [THING])
    before = jobs_table(stack)
    for name, job_id, query, body, status in BAD_OPERATOR_REQUESTS:
        got, answer = operator(stack, name, job_id=job_id, query=query, body=body)

        assert got == status, (name, job_id, query, body, answer)
        assert answer["error"]["message"]
        assert jobs_table(stack) == before, (name, query, body)


def with_thing(**fields: Any) -> dict[str, Any]:
    return {"thingName": THING, **fields}


BAD_DEVICE_REQUESTS: list[tuple[str, str, Any, dict[str, str], int, str]] = [
    (UPDATE, "post_job_update", "{oops", {}, 400, "InvalidRequest"),
    (UPDATE, "post_job_update", "[1]", {}, 400, "InvalidRequest"),
    (UPDATE, "post_job_update", "", {}, 400, "InvalidRequest"),
    (UPDATE, "post_job_update", {"status": "SUCCEEDED"}, {}, 400, "InvalidRequest"),  # no thingName
    (UPDATE, "post_job_update", with_thing(), {}, 400, "InvalidRequest"),  # no status
    (UPDATE, "post_job_update", with_thing(status="DONE"), {}, 400, "InvalidRequest"),
    (
        UPDATE,
        "post_job_update",
        with_thing(status="SUCCEEDED", clientToken="x" * 65),
        {},
        400,
        "InvalidRequest",
    ),
    (UPDATE, "post_job_update", with_thing(status="SUCCEEDED", clientToken=7), {}, 400, "InvalidRequest"),
    (
        UPDATE,
        "post_job_update",
        with_thing(status="SUCCEEDED", statusDetails={f"k{i}": "v" for i in range(11)}),
        {},
        400,
        "InvalidRequest",
    ),
    (
        UPDATE,
        "post_job_update",
        with_thing(status="SUCCEEDED", statusDetails={"k": 5}),
        {},
        400,
        "InvalidRequest",
    ),
    (
        UPDATE,
        "post_job_update",
        with_thing(status="SUCCEEDED", statusDetails={"k": "a\nb"}),
        {},
        400,
        "InvalidRequest",
    ),
    (
        UPDATE,
        "post_job_update",
        with_thing(status="IN_PROGRESS", stepTimeoutInMinutes=0),
        {},
        400,
        "InvalidRequest",
    ),
    (
        UPDATE,
        "post_job_update",
        with_thing(status="IN_PROGRESS", stepTimeoutInMinutes=10081),
        {},
        400,
        "InvalidRequest",
    ),
    (
        UPDATE,
        "post_job_update",
        with_thing(status="SUCCEEDED", expectedVersion="1"),
        {},
        400,
        "InvalidRequest",
    ),
    (
        UPDATE,
        "post_job_update",
        with_thing(status="SUCCEEDED", includeJobDocument="yes"),
        {},
        400,
        "InvalidRequest",
    ),
    (UPDATE, "post_job_update", with_thing(status="SUCCEEDED"), {"jobId": "$next"}, 400, "InvalidRequest"),
    (UPDATE, "post_job_update", with_thing(status="SUCCEEDED"), {"jobId": "x" * 65}, 400, "InvalidRequest"),
    (UPDATE, "post_job_update", {"thingName": "nobody", "status": "SUCCEEDED"}, {}, 404, "ResourceNotFound"),
    (UPDATE, "post_job_update", with_thing(status="SUCCEEDED"), {"jobId": "other"}, 404, "ResourceNotFound"),
    (
        UPDATE,
        "post_job_update",
        with_thing(status="SUCCEEDED", executionNumber=2),
        {},
        404,
        "ResourceNotFound",
    ),
    (START_NEXT, "post_jobs_start_next", with_thing(stepTimeoutInMinutes=-1), {}, 400, "InvalidRequest"),
    (START_NEXT, "post_jobs_start_next", with_thing(statusDetails=[]), {}, 400, "InvalidRequest"),
    (START_NEXT, "post_jobs_start_next", {"thingName": "bad name"}, {}, 400, "InvalidRequest"),
    (DESCRIBE, "post_job_get", with_thing(executionNumber=0), {}, 400, "InvalidRequest"),
    (DESCRIBE, "post_job_get", with_thing(includeJobDocument="no"), {}, 400, "InvalidRequest"),
    (DESCRIBE, "post_job_get", with_thing(), {"jobId": "bad!id"}, 400, "InvalidRequest"),
    (GET_PENDING, "post_jobs_get", "", {}, 400, "InvalidRequest"),
    (GET_PENDING, "post_jobs_get", {"thingName": 7}, {}, 400, "InvalidRequest"),
]


def test_bad_device_requests_are_4xx_and_write_nothing(stack: Stack, auth: str, thing: Thing) -> None:
    create_job(stack, SEED_JOB, [THING])
    before = jobs_table(stack)
    for function, name, body, path, status, code in BAD_DEVICE_REQUESTS:
        ev = (
            td_event(name, auth, body, **path)
            if body != ""
            else with_body(td_event(name, auth, **path), None)
        )

        response = stack.invoke(function, ev)

        answer = json.loads(response["body"])
        assert response["statusCode"] == status, (name, body, path, answer)
        assert answer["code"] == code and answer["message"], (name, body, answer)
        assert jobs_table(stack) == before, (name, body)


def test_a_key_without_permission_for_jobs_is_403(stack: Stack, thing: Thing) -> None:
    create_job(stack, SEED_JOB, [THING])
    shadow_only = create_api_key(
        stack, permissions=[{"method": "POST", "path": "/api/v1/thing-datas/shadow"}]
    )
    before = jobs_table(stack)
    assert td_call(stack, UPDATE, "post_job_update", shadow_only)[0] == 403
    assert jobs_table(stack) == before


# --------------------------------------------------------------------------- concurrency
def test_concurrent_updates_with_the_same_expected_version_have_one_winner(
    stack: Stack, auth: str, thing: Thing
) -> None:
    create_job(stack, "a", [THING])

    def attempt(i: int) -> str:
        request = rules.UpdateRequest(
            rules.ExecutionStatus.IN_PROGRESS, status_details={"writer": str(i)}, expected_version=1
        )
        try:
            jobs_service.update(thing, "a", request)
        except Exception as exc:  # noqa: BLE001 - the losers' error is what is counted
            return type(exc).__name__
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        outcomes = Counter(pool.map(attempt, range(8)))

    assert outcomes == {"ok": 1, "VersionMismatch": 7}
    assert executions(stack, "a")[THING]["versionNumber"] == 2
    assert read_job(stack, "a")["executionCounts"]["IN_PROGRESS"] == 1


def test_many_devices_finishing_at_once_keep_the_counters_exact(stack: Stack) -> None:
    things = [Thing(create_device(stack, f"t{i}").id, f"t{i}") for i in range(12)]
    create_job(stack, "a", [t.name for t in things])

    def finish(target: Thing) -> None:
        jobs_service.update(target, "a", rules.UpdateRequest(rules.ExecutionStatus.IN_PROGRESS))
        jobs_service.update(target, "a", rules.UpdateRequest(rules.ExecutionStatus.SUCCEEDED))

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(finish, things))

    job = read_job(stack, "a")
    assert job["status"] == "COMPLETED"
    assert {k: v for k, v in job["executionCounts"].items() if v} == {"SUCCEEDED": 12}


def test_a_cancel_racing_devices_never_lets_a_canceled_job_start(stack: Stack) -> None:
    things = [Thing(create_device(stack, f"t{i}").id, f"t{i}") for i in range(10)]
    create_job(stack, "a", [t.name for t in things])

    def take(target: Thing) -> None:
        jobs_service.start_next(target, rules.StartNextRequest())

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(take, t) for t in things]
        jobs_service.cancel("a")
        for future in futures:
            future.result()
    jobs_service.get("a")  # finishes the sweep if anything is left

    counts = read_job(stack, "a")["executionCounts"]
    assert counts["QUEUED"] == 0
    assert counts["IN_PROGRESS"] + counts["CANCELED"] == 10
    statuses = Counter(e["status"] for e in executions(stack, "a").values())
    assert statuses == Counter({k: v for k, v in counts.items() if v})


# --------------------------------------------------------------------------- AWS calls per request
def labelled(stack: Stack, calls: list[Any]) -> list[str]:
    """``Operation:table`` per AWS call. The API key's read is left out: a warm container keeps the key
    for ``API_KEY_CACHE_SECONDS`` (the in-process runner forgets it whenever it switches functions)."""
    tables = {stack.table("DevicesTable"): "devices", stack.table("JobsTable"): "jobs"}
    out = []
    for call in calls:
        if str(call.params.get("Key", {}).get("pk", {}).get("S", "")).startswith("APIKEY#"):
            continue
        if call.operation == "TransactWriteItems":
            names = {next(iter(i.values()))["TableName"] for i in call.params["TransactItems"]}
            table = "+".join(sorted(tables.get(n, n) for n in names))
        else:
            table = tables.get(call.params.get("TableName"), call.params.get("TableName"))
        out.append(f"{call.operation}:{table}")
    return out


def test_aws_calls_per_device_request(stack: Stack, auth: str, thing: Thing) -> None:
    """The four device endpoints: one GetItem resolves the thing, then the jobs engine's own calls; the
    job's document is read once per warm container."""
    create_job(stack, SEED_JOB, [THING])
    create_job(stack, "second", [THING])
    create_job(stack, "third", [THING])

    def measured(function: str, name: str, body: dict[str, Any], **path: str) -> list[str]:
        ev = td_event(name, auth, {"thingName": THING, **body}, **path)
        with recorded_aws_calls() as calls:
            response = stack.invoke(function, ev)
        assert response["statusCode"] == 200, response
        return labelled(stack, calls)

    # jobs/get: the thing, one Query of its pending index
    assert measured(GET_PENDING, "post_jobs_get", {}) == ["GetItem:devices", "Query:jobs"]
    # start-next that starts the first QUEUED one: + one transaction (execution and counters) + the
    # document, read once
    assert measured(START_NEXT, "post_jobs_start_next", {}) == [
        "GetItem:devices",
        "Query:jobs",
        "TransactWriteItems:jobs",
        "GetItem:jobs",
    ]
    # start-next while one runs: the thing, one Query (document cached)
    assert measured(START_NEXT, "post_jobs_start_next", {}) == ["GetItem:devices", "Query:jobs"]
    # {jobId}/get: the thing, the execution (document cached)
    assert measured(DESCRIBE, "post_job_get", {}, jobId=SEED_JOB) == ["GetItem:devices", "GetItem:jobs"]
    # update, a progress report: the thing, the execution, one conditional PutItem
    assert measured(UPDATE, "post_job_update", {"status": "IN_PROGRESS"}, jobId=SEED_JOB) == [
        "GetItem:devices",
        "GetItem:jobs",
        "PutItem:jobs",
    ]
    # update that ends it: one transaction + one completion attempt (which returns the job otherwise)
    assert measured(UPDATE, "post_job_update", {"status": "SUCCEEDED"}, jobId=SEED_JOB) == [
        "GetItem:devices",
        "GetItem:jobs",
        "TransactWriteItems:jobs",
        "UpdateItem:jobs",
    ]
    # a retried update: the thing and the execution, nothing written
    body = {"status": "REJECTED", "clientToken": "r"}
    assert measured(UPDATE, "post_job_update", body, jobId="second")[2:] == [
        "TransactWriteItems:jobs",
        "UpdateItem:jobs",
    ]
    assert measured(UPDATE, "post_job_update", body, jobId="second") == ["GetItem:devices", "GetItem:jobs"]
    # a version mismatch: read, refused, nothing written
    mismatch = {"status": "SUCCEEDED", "expectedVersion": 9}
    ev = td_event("post_job_update", auth, {"thingName": THING, **mismatch}, jobId="third")
    with recorded_aws_calls() as calls:
        assert stack.invoke(UPDATE, ev)["statusCode"] == 409
    assert labelled(stack, calls) == ["GetItem:devices", "GetItem:jobs"]
    # {jobId}/get of a job whose document this container has not read yet: + one GetItem
    assert measured(DESCRIBE, "post_job_get", {}, jobId="third") == [
        "GetItem:devices",
        "GetItem:jobs",
        "GetItem:jobs",
    ]
