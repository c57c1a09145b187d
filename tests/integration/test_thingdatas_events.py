"""ThingDatas events, handlers in process against moto: the device's ``POST /api/v1/thing-datas/events``
(the seed's curl body verbatim, every class of bad input) and the operator's
``GET /manage/v1/devices/{id}/events`` (time range, filters, order, pages)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import boto3
import pytest

from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import (
    DEVICE_KEY_PERMISSIONS,
    Device,
    Stack,
    create_api_key,
    create_device,
    event,
    td_call,
    td_event,
    with_query,
)

POST = "TdPostEventFunction"
MANAGE = "ManageEventsFunction"
THING = "thermostat-001"  # the seed's thing


@pytest.fixture
def thing(stack: Stack) -> Device:
    return create_device(stack, THING)


def post(stack: Stack, auth: str, body: Any) -> tuple[int, Any]:
    return td_call(stack, POST, "post_event", auth, body)


def listing(stack: Stack, device_id: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
    response = stack.invoke(
        MANAGE, with_query(event("manage/list_device_events", device_id=device_id), query)
    )
    return response["statusCode"], json.loads(response["body"])


def stored(stack: Stack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=stack.table("EventsTable"))["Items"]
    return items


def now_ms() -> int:
    return int(time.time() * 1000)


def an_event(**changes: Any) -> dict[str, Any]:
    return {"thingName": THING, "eventType": "highTemperature", "timestamp": now_ms()} | changes


# --------------------------------------------------------------------------- device: POST /events
def test_the_seeds_curl_body_is_stored_and_answered(stack: Stack, thing: Device, auth: str) -> None:
    before = now_ms()

    status, body = post(stack, auth, None)  # the event's body: the seed's curl -d verbatim

    assert status == 200
    assert set(body) == {"eventId", "thingName", "timestamp"}
    assert body["thingName"] == THING
    assert body["timestamp"] == 1748390400000
    [item] = stored(stack)
    assert item["deviceId"] == {"S": thing.id}
    assert item["sk"] == {"S": f"001748390400000#{body['eventId']}"}
    assert item["eventType"] == {"S": "highTemperature"}
    assert item["severity"] == {"S": "warn"}
    assert json.loads(item["data"]["S"]) == {"currentTemp": 45.2}
    assert "appId" not in item
    received = int(item["receivedAt"]["N"])
    assert before <= received <= now_ms()
    assert int(item["expiresAt"]["N"]) == received // 1000 + 90 * 86_400  # EventRetentionDays


def test_severity_defaults_to_info_data_to_an_empty_object_and_app_id_is_kept(
    stack: Stack, thing: Device, auth: str
) -> None:
    status, _ = post(stack, auth, an_event(appId="hvac-app"))

    assert status == 200
    [item] = stored(stack)
    assert item["severity"] == {"S": "info"}
    assert item["data"] == {"S": "{}"}
    assert item["appId"] == {"S": "hvac-app"}


def test_two_events_of_the_same_millisecond_are_both_kept(stack: Stack, thing: Device, auth: str) -> None:
    ts = now_ms()

    first = post(stack, auth, an_event(timestamp=ts))[1]["eventId"]
    second = post(stack, auth, an_event(timestamp=ts))[1]["eventId"]

    assert first != second
    assert len(stored(stack)) == 2


def test_a_warm_post_costs_two_aws_calls(stack: Stack, thing: Device, auth: str) -> None:
    post(stack, auth, an_event())  # the function is warm and holds the API key now

    with recorded_aws_calls() as calls:
        status, _ = post(stack, auth, an_event())

    assert status == 200
    assert [(c.service, c.operation) for c in calls] == [
        ("dynamodb", "GetItem"),  # thingName → device id (its name claim)
        ("dynamodb", "PutItem"),  # the event
    ]


def test_a_cold_post_also_reads_the_api_key_once(stack: Stack, thing: Device, auth: str) -> None:
    with recorded_aws_calls() as calls:
        status, _ = post(stack, auth, an_event())

    assert status == 200
    assert [(c.service, c.operation) for c in calls] == [("dynamodb", "GetItem")] * 2 + [
        ("dynamodb", "PutItem")
    ]


TOO_BIG = {"blob": "x" * 65_530}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("", 400, "InvalidRequest"),
        ("{not json", 400, "InvalidRequest"),
        ("[1, 2]", 400, "InvalidRequest"),
        ('{"thingName": "thermostat-001", "eventType": "x", "timestamp": NaN}', 400, "InvalidRequest"),
        ({"eventType": "x", "timestamp": 1748390400000}, 400, "InvalidRequest"),  # no thingName
        (an_event(thingName="bad name!"), 400, "InvalidRequest"),
        (an_event(thingName="nobody"), 404, "ResourceNotFound"),
        ({"thingName": THING, "timestamp": 1748390400000}, 400, "InvalidRequest"),  # no eventType
        (an_event(eventType=""), 400, "InvalidRequest"),
        (an_event(eventType="has space"), 400, "InvalidRequest"),
        (an_event(eventType="x" * 129), 400, "InvalidRequest"),
        (an_event(eventType=7), 400, "InvalidRequest"),
        (an_event(severity="critical"), 400, "InvalidRequest"),
        (an_event(severity="WARN"), 400, "InvalidRequest"),
        (an_event(severity=1), 400, "InvalidRequest"),
        ({"thingName": THING, "eventType": "x"}, 400, "InvalidRequest"),  # no timestamp
        (an_event(timestamp="1748390400000"), 400, "InvalidRequest"),
        (an_event(timestamp=1748390400000.5), 400, "InvalidRequest"),  # 1748390400000.0 is an integer
        (an_event(timestamp=True), 400, "InvalidRequest"),
        (an_event(timestamp=1748390400), 400, "InvalidRequest"),  # seconds: before 2000 as milliseconds
        (an_event(timestamp=-1), 400, "InvalidRequest"),
        (an_event(timestamp=10**15), 400, "InvalidRequest"),
        (an_event(data=[1, 2]), 400, "InvalidRequest"),
        (an_event(data="text"), 400, "InvalidRequest"),
        (an_event(appId=""), 400, "InvalidRequest"),
        (an_event(appId="a" * 129), 400, "InvalidRequest"),
        (an_event(appId="line\nbreak"), 400, "InvalidRequest"),
        (an_event(appId=5), 400, "InvalidRequest"),
        (an_event(serverity="warn"), 400, "InvalidRequest"),  # a misspelt field is not dropped silently
        (an_event(data=TOO_BIG), 413, "PayloadTooLarge"),
    ],
)
def test_bad_events_are_4xx_in_the_dialects_format_and_write_nothing(
    stack: Stack, thing: Device, auth: str, *, body: Any, status: int, code: str
) -> None:
    got_status, got = post(stack, auth, body)

    assert got_status == status, got
    assert got["code"] == code
    assert isinstance(got["message"], str) and got["message"]
    assert stored(stack) == []


def test_a_timestamp_more_than_a_day_ahead_is_400(stack: Stack, thing: Device, auth: str) -> None:
    status, body = post(stack, auth, an_event(timestamp=now_ms() + 86_400_000 + 60_000))

    assert status == 400
    assert "timestamp" in body["message"]
    assert stored(stack) == []


def test_a_body_over_the_device_payload_limit_is_413(stack: Stack, thing: Device, auth: str) -> None:
    status, body = post(stack, auth, an_event(data={"blob": "x" * 1_100_000}))

    assert status == 413
    assert body["code"] == "PayloadTooLarge"
    assert stored(stack) == []


@pytest.mark.parametrize(
    ("header", "status", "code"),
    [
        (None, 401, "Unauthorized"),
        ("Basic " + base64.b64encode(b"ak_nobody:secret").decode(), 401, "Unauthorized"),
    ],
)
def test_without_a_valid_api_key_nothing_is_written(
    stack: Stack, thing: Device, header: str | None, status: int, code: str
) -> None:
    request = td_event("post_event", "x")
    if header is None:
        del request["headers"]["authorization"]
    else:
        request["headers"]["authorization"] = header

    response = stack.invoke(POST, request)

    assert response["statusCode"] == status
    assert json.loads(response["body"])["code"] == code
    assert stored(stack) == []


def test_a_key_without_post_permission_or_scoped_to_other_things_is_403(stack: Stack, thing: Device) -> None:
    read_only = create_api_key(stack, permissions=[{"method": "GET", "path": "/api/v1/thing-datas"}])
    other_things = create_api_key(stack, permissions=DEVICE_KEY_PERMISSIONS, thing_names=["someone-else"])

    for key in (read_only, other_things):
        status, body = post(stack, key, an_event())
        assert status == 403
        assert body["code"] == "Forbidden"
    assert stored(stack) == []


# --------------------------------------------------------------------------- operator: GET .../events
def seed_events(stack: Stack, auth: str) -> list[dict[str, Any]]:
    """Five events at base+0..4 s: alternating types, severities info/warn/error/info/warn."""
    base = 1_748_390_400_000
    sent = []
    for i, severity in enumerate(["info", "warn", "error", "info", "warn"]):
        body = an_event(
            eventType="doorOpen" if i % 2 else "highTemperature",
            severity=severity,
            timestamp=base + i * 1000,
            data={"i": i},
        )
        status, answer = post(stack, auth, body)
        assert status == 200
        sent.append(body | {"eventId": answer["eventId"]})
    return sent


def test_listing_is_newest_first_with_every_field(stack: Stack, thing: Device, auth: str) -> None:
    sent = seed_events(stack, auth)

    status, body = listing(stack, thing.id)

    assert status == 200
    assert body["count"] == 5
    assert "nextToken" not in body
    assert [e["data"]["i"] for e in body["data"]] == [4, 3, 2, 1, 0]
    newest = body["data"][0]
    assert newest["eventId"] == sent[4]["eventId"]
    assert {k: newest[k] for k in ("eventType", "severity", "timestamp", "data")} == {
        "eventType": "highTemperature",
        "severity": "warn",
        "timestamp": 1_748_390_404_000,
        "data": {"i": 4},
    }
    assert newest["receivedAt"].endswith("Z")


def test_time_range_is_inclusive_and_order_asc_is_oldest_first(
    stack: Stack, thing: Device, auth: str
) -> None:
    seed_events(stack, auth)

    status, body = listing(
        stack, thing.id, {"startTs": "1748390401000", "endTs": "1748390403000", "order": "asc"}
    )

    assert status == 200
    assert [e["data"]["i"] for e in body["data"]] == [1, 2, 3]


def test_type_and_severity_filter(stack: Stack, thing: Device, auth: str) -> None:
    seed_events(stack, auth)

    by_type = listing(stack, thing.id, {"eventType": "doorOpen"})[1]
    by_both = listing(stack, thing.id, {"eventType": "highTemperature", "severity": "info"})[1]

    assert [e["data"]["i"] for e in by_type["data"]] == [3, 1]
    assert [e["data"]["i"] for e in by_both["data"]] == [0]


def test_pages_follow_next_token_and_filtered_pages_may_be_short(
    stack: Stack, thing: Device, auth: str
) -> None:
    seed_events(stack, auth)

    seen: list[int] = []
    query: dict[str, str] = {"limit": "2", "severity": "warn"}
    pages = 0
    while True:
        status, body = listing(stack, thing.id, query)
        assert status == 200
        assert body["count"] <= 2
        seen += [e["data"]["i"] for e in body["data"]]
        pages += 1
        if "nextToken" not in body:
            break
        query = {"limit": "2", "severity": "warn", "nextToken": body["nextToken"]}

    assert seen == [4, 1]
    assert pages == 3  # [4, 3]→[4], [2, 1]→[1], [0]→[]: pages shorter than the limit, tokens still given


def test_events_are_listed_only_for_their_device(stack: Stack, thing: Device, auth: str) -> None:
    seed_events(stack, auth)
    other = create_device(stack, "thermostat-002")

    status, body = listing(stack, other.id)

    assert status == 200
    assert body["data"] == []


def test_unknown_device_is_404(stack: Stack) -> None:
    status, body = listing(stack, "0b8f7e1a-0000-4000-8000-000000000000")

    assert status == 404
    assert body["error"]["code"] == 404


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"startTs": "-1"},
        {"startTs": "yesterday"},
        {"endTs": "1e12"},
        {"endTs": "1" * 16},
        {"startTs": "2000", "endTs": "1000"},
        {"eventType": "has space"},
        {"severity": "fatal"},
        {"order": "newest"},
        {"nextToken": "not-a-token"},
        {"nextToken": base64.urlsafe_b64encode(b'{"deviceId":{"S":"other"},"sk":{"S":"x"}}').decode()},
    ],
)
def test_bad_list_parameters_are_400(stack: Stack, thing: Device, query: dict[str, str]) -> None:
    status, body = listing(stack, thing.id, query)

    assert status == 400, body
    assert body["error"]["code"] == 400
