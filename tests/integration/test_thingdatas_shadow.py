"""ThingDatas (EMQX Fleets) shadow API, handlers in process against moto: ``POST /api/v1/thing-datas/
shadow/reported`` and ``GET /api/v1/thing-datas/{thingName}/shadow``; history kept with each report;
every class of bad input refused with nothing written; parity with ThingsBoard attributes.

Rules: docs/thingdatas.md, "Shadows" (the routes) and "The shadow rules" (AWS semantics, exact messages)."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import boto3
import pytest

from fleetgate.clock import iso_utc
from fleetgate.domain.shadow import CLASSIC
from fleetgate.errors import VersionConflict
from fleetgate.services import shadows
from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import (
    Device,
    Stack,
    create_api_key,
    create_device,
    event,
    td_call,
    td_event,
    with_body,
    with_query,
)

REPORT = "TdPostShadowReportedFunction"
GET = "TdGetShadowFunction"
THING = "thermostat-001"  # the seed's thing
SEED_REPORTED = {"temperature": 21.5, "humidity": 58}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")


@pytest.fixture
def thing(stack: Stack) -> Device:
    return create_device(stack, THING)


def report(
    stack: Stack, auth: str, body: Any, *, name: str | None = None, thing_name: str = THING
) -> tuple[int, Any]:
    """POST a report; a dict body gets ``thingName`` unless it has one (or None to leave it out)."""
    if isinstance(body, dict):
        body = {"thingName": thing_name, **body}
        body = {k: v for k, v in body.items() if v is not None or k != "thingName"}
    ev = td_event("post_shadow_reported", auth, body if isinstance(body, str) else json.dumps(body))
    if name is not None:
        ev = with_query(ev, {"name": name})
    response = stack.invoke(REPORT, ev)
    return response["statusCode"], json.loads(response["body"])


def read(stack: Stack, auth: str, *, name: str | None = None, thing_name: str = THING) -> tuple[int, Any]:
    ev = td_event("get_shadow", auth, thingName=thing_name)
    if name is not None:
        ev = with_query(ev, {"name": name})
    response = stack.invoke(GET, ev)
    return response["statusCode"], json.loads(response["body"])


def history_items(stack: Stack) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=stack.table("ShadowHistoryTable"))["Items"]
    return sorted(items, key=lambda i: i["entry"]["S"])


def written(stack: Stack) -> tuple[int, int, list[str]]:
    """What a refused request must leave unchanged: item counts and every stored shadow document."""
    docs = boto3.client("dynamodb").scan(TableName=stack.table("ShadowsTable"))["Items"]
    return (
        stack.count_items("ShadowsTable"),
        stack.count_items("ShadowHistoryTable"),
        sorted(json.dumps(d, sort_keys=True) for d in docs),
    )


def set_shared(stack: Stack, device: Device, values: dict[str, Any]) -> None:
    response = stack.invoke(
        "ManageDevicesFunction",
        with_body(event("manage/put_shared_attributes", device_id=device.id), json.dumps(values)),
    )
    assert response["statusCode"] == 200, response


# --------------------------------------------------------------------------- report
def test_seed_report_is_accepted_with_the_aws_accepted_document(
    stack: Stack, thing: Device, auth: str
) -> None:
    before = int(time.time())

    status, body = td_call(stack, REPORT, "post_shadow_reported", auth)  # the seed's curl body, verbatim

    after = int(time.time())
    assert status == 200
    stamp = body["timestamp"]
    assert before <= stamp <= after
    assert body == {
        "state": {"reported": SEED_REPORTED},
        "metadata": {"reported": {"temperature": {"timestamp": stamp}, "humidity": {"timestamp": stamp}}},
        "version": 1,
        "timestamp": stamp,
        "clientToken": "tok-001",
    }


def test_get_after_a_report_has_the_fleets_shape(stack: Stack, thing: Device, auth: str) -> None:
    _, accepted = td_call(stack, REPORT, "post_shadow_reported", auth)

    status, body = td_call(stack, GET, "get_shadow", auth)

    assert status == 200
    assert body == {
        "reported": SEED_REPORTED,
        "desired": {},
        "delta": {},
        "version": 1,
        "updatedAt": iso_utc(accepted["timestamp"] * 1000),
    }
    assert ISO_UTC.match(body["updatedAt"])


def test_thing_that_never_reported_reads_as_an_empty_shadow_at_version_0(
    stack: Stack, thing: Device, auth: str
) -> None:
    status, body = read(stack, auth)

    assert status == 200
    assert body == {"reported": {}, "desired": {}, "delta": {}, "version": 0, "updatedAt": None}


def test_desired_set_before_any_report_is_the_whole_delta(stack: Stack, thing: Device, auth: str) -> None:
    set_shared(stack, thing, {"targetTemperature": 24, "mode": "eco"})

    status, body = read(stack, auth)

    assert status == 200
    assert body["reported"] == {}
    assert body["desired"] == body["delta"] == {"targetTemperature": 24, "mode": "eco"}
    assert body["version"] == 1
    assert ISO_UTC.match(body["updatedAt"])


def test_shared_attributes_are_the_desired_side_and_the_delta_follows_reports(
    stack: Stack, thing: Device, auth: str
) -> None:
    """ThingsBoard → ThingDatas: a shared attribute set through the ThingsBoard operator route is the
    ThingDatas shadow's desired state, and its delta closes when the device reports it."""
    stack.invoke("ManageDevicesFunction", event("manage/put_shared_attributes", device_id=thing.id))
    report(stack, auth, {"state": {"reported": {"targetTemperature": 20, "mode": "eco"}}})

    _, before = read(stack, auth)
    report(stack, auth, {"state": {"reported": {"targetTemperature": 21.5}}})
    _, after = read(stack, auth)

    assert before["desired"] == {"targetTemperature": 21.5, "mode": "eco"}
    assert before["delta"] == {"targetTemperature": 21.5}
    assert after["delta"] == {}
    assert after["version"] == 3


def test_reports_merge_with_aws_semantics(stack: Stack, thing: Device, auth: str) -> None:
    report(stack, auth, {"state": {"reported": {"a": 1, "cfg": {"x": 1, "y": 2}, "list": [1, 2, 3]}}})

    status, accepted = report(
        stack, auth, {"state": {"reported": {"a": None, "cfg": {"y": None, "z": 3}, "list": [9]}}}
    )

    assert status == 200
    assert accepted["state"] == {"reported": {"a": None, "cfg": {"y": None, "z": 3}, "list": [9]}}
    stamp = {"timestamp": accepted["timestamp"]}
    assert accepted["metadata"] == {
        "reported": {"a": stamp, "cfg": {"y": stamp, "z": stamp}, "list": [stamp]}
    }
    _, body = read(stack, auth)
    assert body["reported"] == {"cfg": {"x": 1, "z": 3}, "list": [9]}
    assert body["version"] == 2


def test_null_reported_section_clears_reported_but_keeps_desired(
    stack: Stack, thing: Device, auth: str
) -> None:
    set_shared(stack, thing, {"mode": "eco"})
    report(stack, auth, {"state": {"reported": {"mode": "eco", "t": 1}}})

    status, _ = report(stack, auth, {"state": {"reported": None}})

    assert status == 200
    _, body = read(stack, auth)
    assert (body["reported"], body["desired"], body["delta"]) == ({}, {"mode": "eco"}, {"mode": "eco"})


def test_report_without_client_token_has_none_in_the_answer(stack: Stack, thing: Device, auth: str) -> None:
    status, body = report(stack, auth, {"state": {"reported": {"a": 1}}})

    assert status == 200
    assert "clientToken" not in body


# --------------------------------------------------------------------------- versions
def test_report_naming_the_current_version_is_accepted(stack: Stack, thing: Device, auth: str) -> None:
    report(stack, auth, {"state": {"reported": {"a": 1}}})

    status, body = report(stack, auth, {"state": {"reported": {"a": 2}}, "version": 1})

    assert (status, body["version"]) == (200, 2)


def test_version_0_means_no_check(stack: Stack, thing: Device, auth: str) -> None:
    report(stack, auth, {"state": {"reported": {"a": 1}}})
    report(stack, auth, {"state": {"reported": {"a": 2}}})

    status, body = report(stack, auth, {"state": {"reported": {"a": 3}}, "version": 0})

    assert (status, body["version"]) == (200, 3)


@pytest.mark.parametrize("sent", [1, 3], ids=["stale", "ahead"])
def test_version_mismatch_is_409_with_the_current_version_and_writes_nothing(
    stack: Stack, thing: Device, auth: str, sent: int
) -> None:
    report(stack, auth, {"state": {"reported": {"a": 1}}})
    report(stack, auth, {"state": {"reported": {"a": 2}}})
    before = written(stack)

    status, body = report(stack, auth, {"state": {"reported": {"a": 3}}, "version": sent, "clientToken": "c"})

    assert status == 409
    assert body == {"code": "VersionConflict", "message": "Version conflict", "version": 2}
    assert written(stack) == before


def test_version_sent_before_the_first_report_is_a_conflict(stack: Stack, thing: Device, auth: str) -> None:
    status, body = report(stack, auth, {"state": {"reported": {"a": 1}}, "version": 1})

    assert (status, body["version"]) == (409, 0)
    assert (stack.count_items("ShadowsTable"), stack.count_items("ShadowHistoryTable")) == (0, 0)


def test_two_reports_with_the_same_version_give_exactly_one_409(
    stack: Stack, thing: Device, auth: str
) -> None:
    """Concurrent writers through the service (Powertools Metrics is not thread-safe): both name
    version 1; exactly one wins, the other gets the conflict, and only the winner leaves history."""
    report(stack, auth, {"state": {"reported": {"a": 0}}})  # version 1, and the function's environment
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def concurrent_report(value: int) -> None:
        request = shadows.parse_report({"state": {"reported": {"a": value}}, "version": 1})
        barrier.wait()
        try:
            shadow, _ = shadows.update(thing.id, CLASSIC, request, source="thingdatas")
            outcomes.append(shadow.version)
        except VersionConflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=concurrent_report, args=(v,)) for v in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    conflicts = [o for o in outcomes if isinstance(o, VersionConflict)]
    assert len(outcomes) == 2
    assert len(conflicts) == 1
    assert conflicts[0].current_version == 2
    assert [o for o in outcomes if not isinstance(o, VersionConflict)] == [2]
    assert [i["entry"]["S"] for i in history_items(stack)] == [
        f"{CLASSIC}#0000000001",
        f"{CLASSIC}#0000000002",
    ]


def test_concurrent_reports_without_a_version_all_land_with_one_history_entry_each(
    stack: Stack, thing: Device, auth: str
) -> None:
    report(stack, auth, {"state": {"reported": {"seed": 0}}})
    writers = 6

    def concurrent_report(i: int) -> None:
        shadows.update(thing.id, CLASSIC, shadows.parse_report({"state": {"reported": {f"k{i}": i}}}))

    threads = [threading.Thread(target=concurrent_report, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    _, body = read(stack, auth)
    assert body["reported"] == {"seed": 0, **{f"k{i}": i for i in range(writers)}}
    assert body["version"] == writers + 1
    items = history_items(stack)
    assert [int(i["version"]["N"]) for i in items] == list(range(1, writers + 2))
    patches = sorted(i["reported"]["S"] for i in items[1:])
    assert patches == sorted(json.dumps({f"k{i}": i}, separators=(",", ":")) for i in range(writers))


def test_an_attempt_beaten_by_another_writer_leaves_no_history(
    stack: Stack, thing: Device, auth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic interleaving: right after this report reads version 1, another writer commits
    version 2. The first attempt's transaction fails and the retry commits version 3; the history holds
    each writer's own patch at its own version, and nothing of the failed attempt."""
    report(stack, auth, {"state": {"reported": {"a": 0}}})
    original_get = shadows.ShadowRepository.get
    interleaved: list[bool] = []

    def get_then_someone_writes(repo: Any, device_id: str, name: str) -> Any:
        shadow = original_get(repo, device_id, name)
        if not interleaved:
            interleaved.append(True)
            shadows.update(device_id, name, shadows.parse_report({"state": {"reported": {"other": 1}}}))
        return shadow

    monkeypatch.setattr(shadows.ShadowRepository, "get", get_then_someone_writes)

    new, _ = shadows.update(thing.id, CLASSIC, shadows.parse_report({"state": {"reported": {"mine": 1}}}))

    assert new.version == 3
    assert [(i["version"]["N"], json.loads(i["reported"]["S"])) for i in history_items(stack)] == [
        ("1", {"a": 0}),
        ("2", {"other": 1}),
        ("3", {"mine": 1}),
    ]


# --------------------------------------------------------------------------- named shadows
def test_named_shadow_is_separate_from_the_classic_one(stack: Stack, thing: Device, auth: str) -> None:
    report(stack, auth, {"state": {"reported": {"t": 1}}})
    report(stack, auth, {"state": {"reported": {"t": 2}}})

    status, accepted = report(stack, auth, {"state": {"reported": {"fw": "2.0"}}}, name="firmware")

    assert (status, accepted["version"]) == (200, 1)
    _, named = read(stack, auth, name="firmware")
    _, classic = read(stack, auth)
    assert (named["reported"], named["version"]) == ({"fw": "2.0"}, 1)
    assert (classic["reported"], classic["version"]) == ({"t": 2}, 2)


def test_named_shadow_that_does_not_exist_is_404_with_the_aws_message(
    stack: Stack, thing: Device, auth: str
) -> None:
    status, body = read(stack, auth, name="firmware")

    assert status == 404
    assert body == {"code": "ResourceNotFound", "message": "No shadow exists with name: 'firmware'"}


def test_unknown_thing_is_404(stack: Stack, thing: Device, auth: str) -> None:
    get_status, get_body = read(stack, auth, thing_name="no-such-thing")
    post_status, post_body = report(
        stack, auth, {"state": {"reported": {"a": 1}}}, thing_name="no-such-thing"
    )

    assert (get_status, get_body["code"]) == (404, "ResourceNotFound")
    assert (post_status, post_body["code"]) == (404, "ResourceNotFound")
    assert stack.count_items("ShadowsTable") == 0


# --------------------------------------------------------------------------- history
def test_every_accepted_report_is_kept_as_history(stack: Stack, thing: Device, auth: str) -> None:
    before = int(time.time())
    td_call(stack, REPORT, "post_shadow_reported", auth)
    report(stack, auth, {"state": {"reported": {"temperature": None}}})
    report(stack, auth, {"state": {"reported": {"fw": "2.0"}}}, name="firmware")

    items = history_items(stack)

    assert [i["entry"]["S"] for i in items] == [
        "firmware#0000000001",
        f"{CLASSIC}#0000000001",
        f"{CLASSIC}#0000000002",
    ]
    first = items[1]
    assert all(i["deviceId"]["S"] == thing.id for i in items)
    assert json.loads(first["reported"]["S"]) == SEED_REPORTED
    assert json.loads(items[2]["reported"]["S"]) == {"temperature": None}  # the patch, nulls included
    assert (first["version"]["N"], first["source"]["S"], first["clientToken"]["S"]) == (
        "1",
        "thingdatas",
        "tok-001",
    )
    assert "clientToken" not in items[2]
    stamp = int(first["timestamp"]["N"])
    assert before <= stamp <= int(time.time())
    assert int(first["expiresAt"]["N"]) == stamp + 90 * 86_400  # SHADOW_HISTORY_RETENTION_DAYS


def test_client_attributes_are_kept_as_history_too(stack: Stack, thing: Device, auth: str) -> None:
    """ThingsBoard client attributes are the classic shadow's reported side: they are reports."""
    response = stack.invoke(
        "TbPostAttributesFunction",
        with_body(event("thingsboard/post_attributes", token=thing.token), '{"fw": "v1.0"}'),
    )
    assert response["statusCode"] == 200

    items = history_items(stack)
    _, body = read(stack, auth)

    assert [(i["entry"]["S"], i["source"]["S"], json.loads(i["reported"]["S"])) for i in items] == [
        (f"{CLASSIC}#0000000001", "thingsboard", {"fw": "v1.0"})
    ]
    assert body["reported"] == {"fw": "v1.0"}


def test_desired_changes_are_not_history(stack: Stack, thing: Device, auth: str) -> None:
    set_shared(stack, thing, {"mode": "eco"})

    assert stack.count_items("ShadowHistoryTable") == 0


# --------------------------------------------------------------------------- bad input
DEEP = {"l2": {"l3": {"l4": {"l5": {"l6": {"l7": {"v": 1}}}}}}}  # reported itself is level 1: 7 levels
BAD_REPORTS = [
    pytest.param("{not json", 400, "InvalidRequest", "Invalid JSON", id="malformed-json"),
    pytest.param('{"a": NaN}', 400, "InvalidRequest", "Invalid JSON", id="nan"),
    pytest.param("[1, 2]", 400, "InvalidRequest", "The body must be a JSON object", id="array-body"),
    pytest.param('"text"', 400, "InvalidRequest", "The body must be a JSON object", id="string-body"),
    pytest.param(
        {"thingName": None, "state": {"reported": {"a": 1}}},
        400,
        "InvalidRequest",
        "thingName is required",
        id="missing-thing-name",
    ),
    pytest.param(
        {"thingName": 42, "state": {"reported": {"a": 1}}},
        400,
        "InvalidRequest",
        "thingName must be 1-128 characters of letters, digits, ':', '_' or '-'",
        id="thing-name-not-a-string",
    ),
    pytest.param(
        {"reported": {"a": 1}}, 400, "InvalidRequest", "Missing required node: state", id="no-state"
    ),
    pytest.param({"state": [1]}, 400, "InvalidRequest", "State node must be an object", id="state-array"),
    pytest.param({"state": None}, 400, "InvalidRequest", "State node must be an object", id="state-null"),
    pytest.param({"state": {}}, 400, "InvalidRequest", "Missing required node: reported", id="state-empty"),
    pytest.param(
        {"state": {"reported": 5}},
        400,
        "InvalidRequest",
        "Reported node must be an object",
        id="reported-number",
    ),
    pytest.param(
        {"state": {"reported": {"a": 1}, "desired": {"a": 2}}},
        400,
        "InvalidRequest",
        "State contains an invalid node: 'desired'",
        id="desired-in-report",
    ),
    pytest.param(
        {"state": {"reported": {"a": 1}, "delta": {"a": 2}}},
        400,
        "InvalidRequest",
        "State contains an invalid node: 'delta'",
        id="delta-in-report",
    ),
    pytest.param(
        {"state": {"reported": DEEP}},
        400,
        "InvalidRequest",
        "JSON contains too many levels of nesting; maximum is 6",
        id="too-deep",
    ),
    pytest.param(
        {"state": {"reported": {"a": [1, None]}}},
        400,
        "InvalidRequest",
        "Invalid JSON: arrays can't have null values",
        id="null-in-array",
    ),
    pytest.param(
        {"state": {"reported": {"big": "x" * 8200}}},
        413,
        "PayloadTooLarge",
        "The payload exceeds the maximum size allowed",
        id="over-8-kb",
    ),
    pytest.param(
        {"state": {"reported": {"a": 1}}, "clientToken": "t" * 65},
        400,
        "InvalidRequest",
        "Invalid clientToken",
        id="client-token-65-bytes",
    ),
    pytest.param(
        {"state": {"reported": {"a": 1}}, "clientToken": 7},
        400,
        "InvalidRequest",
        "Invalid clientToken",
        id="client-token-not-a-string",
    ),
    pytest.param(
        {"state": {"reported": {"a": 1}}, "version": -1},
        400,
        "InvalidRequest",
        "Invalid version",
        id="version-neg",
    ),
    pytest.param(
        {"state": {"reported": {"a": 1}}, "version": "1"},
        400,
        "InvalidRequest",
        "Invalid version",
        id="version-string",
    ),
    pytest.param(
        {"state": {"reported": {"a": 1}}, "version": 1.5},
        400,
        "InvalidRequest",
        "Invalid version",
        id="version-float",
    ),
    pytest.param(
        {"state": {"reported": {"a": 1}}, "version": True},
        400,
        "InvalidRequest",
        "Invalid version",
        id="version-bool",
    ),
]


@pytest.mark.parametrize(("body", "status", "code", "message"), BAD_REPORTS)
def test_bad_report_is_refused_and_writes_nothing(
    stack: Stack, thing: Device, auth: str, *, body: Any, status: int, code: str, message: str
) -> None:
    report(stack, auth, {"state": {"reported": {"a": 1}}})  # a shadow at version 1, one history entry
    before = written(stack)

    got_status, got_body = report(stack, auth, body)

    assert (got_status, got_body) == (status, {"code": code, "message": message})
    assert written(stack) == before


def test_size_limit_counts_the_stored_state_not_the_request(stack: Stack, thing: Device, auth: str) -> None:
    report(stack, auth, {"state": {"reported": {"a": "x" * 5000}}})
    before = written(stack)

    status, body = report(stack, auth, {"state": {"reported": {"b": "y" * 4000}}})

    assert (status, body["code"]) == (413, "PayloadTooLarge")
    assert written(stack) == before


@pytest.mark.parametrize("name", ["", "bad/name", "bad name", "$aws", "n" * 65], ids=str)
def test_bad_shadow_name_is_400_on_both_endpoints_and_writes_nothing(
    stack: Stack, thing: Device, auth: str, name: str
) -> None:
    post_status, post_body = report(stack, auth, {"state": {"reported": {"a": 1}}}, name=name)
    get_status, get_body = read(stack, auth, name=name)

    expected = {
        "code": "InvalidRequest",
        "message": "Invalid shadow name: it must be 1-64 characters of letters, digits, ':', '_' or '-'",
    }
    assert (post_status, post_body) == (400, expected)
    assert (get_status, get_body) == (400, expected)
    assert (stack.count_items("ShadowsTable"), stack.count_items("ShadowHistoryTable")) == (0, 0)


def test_64_character_shadow_name_is_accepted(stack: Stack, thing: Device, auth: str) -> None:
    status, _ = report(stack, auth, {"state": {"reported": {"a": 1}}}, name="n" * 64)

    assert status == 200


def _without_auth(ev: dict[str, Any]) -> dict[str, Any]:
    ev["headers"].pop("authorization")
    return ev


@pytest.mark.parametrize("function", [REPORT, GET])
def test_missing_or_wrong_key_is_401_and_writes_nothing(
    stack: Stack, thing: Device, auth: str, function: str
) -> None:
    name = "post_shadow_reported" if function == REPORT else "get_shadow"
    wrong = auth[:-4] + ("AAAA" if not auth.endswith("AAAA") else "BBBB")

    missing = stack.invoke(function, _without_auth(td_event(name, auth)))
    bad = stack.invoke(function, td_event(name, wrong))

    assert missing["statusCode"] == bad["statusCode"] == 401
    assert json.loads(missing["body"])["code"] == json.loads(bad["body"])["code"] == "Unauthorized"
    assert (stack.count_items("ShadowsTable"), stack.count_items("ShadowHistoryTable")) == (0, 0)


def test_key_without_the_method_is_403(stack: Stack, thing: Device) -> None:
    post_only = create_api_key(stack, permissions=[{"method": "POST", "path": "/api/v1/thing-datas"}])
    get_only = create_api_key(stack, permissions=[{"method": "GET", "path": "/api/v1/thing-datas"}])

    get_status, get_body = td_call(stack, GET, "get_shadow", post_only)
    post_status, post_body = td_call(stack, REPORT, "post_shadow_reported", get_only)

    assert (get_status, get_body["code"]) == (403, "Forbidden")
    assert (post_status, post_body["code"]) == (403, "Forbidden")
    assert (stack.count_items("ShadowsTable"), stack.count_items("ShadowHistoryTable")) == (0, 0)


def test_key_scoped_to_other_things_is_403(stack: Stack, thing: Device) -> None:
    other = create_api_key(stack, thing_names=["another-thing"])

    get_status, get_body = td_call(stack, GET, "get_shadow", other)
    post_status, post_body = td_call(stack, REPORT, "post_shadow_reported", other)

    assert (get_status, get_body) == (
        403,
        {"code": "Forbidden", "message": f"This API key may not access thing '{THING}'"},
    )
    assert (post_status, post_body["code"]) == (403, "Forbidden")
    assert (stack.count_items("ShadowsTable"), stack.count_items("ShadowHistoryTable")) == (0, 0)


def test_key_scoped_to_the_thing_may_report_and_read(stack: Stack, thing: Device) -> None:
    scoped = create_api_key(stack, thing_names=[THING])

    post_status, _ = td_call(stack, REPORT, "post_shadow_reported", scoped)
    get_status, body = td_call(stack, GET, "get_shadow", scoped)

    assert (post_status, get_status, body["reported"]) == (200, 200, SEED_REPORTED)


# --------------------------------------------------------------------------- cost
def test_aws_calls_per_request(stack: Stack, thing: Device, auth: str) -> None:
    """A report: the API key (first request only, then cached), the thing's name claim, the shadow,
    and one transaction writing the shadow and its history entry. A read: key, name, shadow."""
    devices_table, shadows_table = stack.table("DevicesTable"), stack.table("ShadowsTable")
    history_table = stack.table("ShadowHistoryTable")

    with recorded_aws_calls() as first_report:
        assert td_call(stack, REPORT, "post_shadow_reported", auth)[0] == 200
    with recorded_aws_calls() as second_report:
        assert td_call(stack, REPORT, "post_shadow_reported", auth)[0] == 200
    with recorded_aws_calls() as first_read:
        assert td_call(stack, GET, "get_shadow", auth)[0] == 200
    with recorded_aws_calls() as second_read:
        assert td_call(stack, GET, "get_shadow", auth)[0] == 200

    def shape(calls: list[Any]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for call in calls:
            if call.operation == "TransactWriteItems":
                tables = [next(iter(i.values()))["TableName"] for i in call.params["TransactItems"]]
                out.append((call.operation, tables))
            else:
                out.append((call.operation, call.params["TableName"]))
        return out

    assert shape(first_report) == [
        ("GetItem", devices_table),  # the API key
        ("GetItem", devices_table),  # the thing's name
        ("GetItem", shadows_table),
        ("TransactWriteItems", [shadows_table, history_table]),
    ]
    assert shape(second_report) == shape(first_report)[1:]
    assert shape(first_read) == [
        ("GetItem", devices_table),
        ("GetItem", devices_table),
        ("GetItem", shadows_table),
    ]  # another function: its own key cache
    assert shape(second_read) == shape(first_read)[1:]
