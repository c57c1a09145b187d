"""The ThingsPro dialect's pure rules: topics and the gateway's MQTT client body, the remote-API
envelopes both ways, stop-and-wait delivery order, lifecycle-event ordering, and sealed secrets."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from fleetgate.domain import thingspro as tpe
from fleetgate.domain.commands import Command, State
from fleetgate.errors import InvalidRequest

GW = "0b9f4c8e-2f7a-4d7e-9a51-6c1f2a3b4c5d"
NOW = 1_800_000_000_000


def command(
    seq: int, state: State = State.QUEUED, *, delivered: int | None = None, expires: int = NOW + 60_000
) -> Command:
    return Command(
        device_id=GW,
        uuid=f"u-{seq}",
        seq=seq,
        name="PUT /mqtt/1",
        params_json=json.dumps(
            {"method": "PUT", "target": "/mqtt/1/store-and-forward", "body": {"enable": True}}
        ),
        state=state,
        created=NOW - 1000,
        expires=expires,
        retain_until=0,
        updated=NOW - 1000,
        deliveries=0 if delivered is None else 1,
        last_delivered_time=delivered,
        delivered_time=delivered,
    )


def test_the_gateway_client_body_connects_as_the_gateway_with_the_remote_api_on_its_own_topics() -> None:
    body = tpe.client_configuration(GW, "key-1", "iot.example.com", 8883, tls=True)
    assert (body["clientID"], body["userName"], body["password"]) == (GW, GW, "key-1")
    assert (body["server"], body["port"], body["certificateOverTLS"]) == ("iot.example.com", 8883, True)
    assert body["protocolVersion"] == "3.1.1"
    assert body["remoteAPI"] == {
        "enable": True,
        "requestSubTopic": f"thingspro/{GW}/api/request",
        "responsePubTopic": f"thingspro/{GW}/api/response",
        "qos": 1,
        "retain": False,
    }


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        (f"thingspro/{GW}/messages/plant-1", True),
        (f"thingspro/{GW}/messages/a/b", True),
        (f"thingspro/{GW}/messages/", False),
        (f"thingspro/{GW}/messages/+", False),
        (f"thingspro/{GW}/api/response", False),
        ("thingspro/another/messages/x", False),
        ("sample", False),
        (7, False),
    ],
)
def test_message_groups_publish_under_the_gateway_messages_prefix_only(topic: object, allowed: bool) -> None:
    assert tpe.message_topic_allowed(GW, topic) is allowed


def test_a_request_envelope_is_moxas_with_the_expiry_in_utc_seconds_and_the_id_as_text() -> None:
    sent = command(17, expires=1_800_000_123_999)
    message = tpe.envelope(sent, {"enable": True})
    assert message == {
        "path": "/mqtt/1/store-and-forward",
        "method": "PUT",
        "headers": [{"request-expired-time": "2027-01-15 08:02:03"}, {"request-id": "17"}],
        "requestBody": {"enable": True},
    }
    assert "requestBody" not in tpe.envelope(sent, None)


@pytest.mark.parametrize(
    ("raw", "request_id", "state", "payload"),
    [
        (b'{"request-id":"1","state":200,"payload":{"data":{"a":1}}}', 1, 200, {"data": {"a": 1}}),
        (b'{"request-id":"2","state":200,"payload":"{\\"data\\":\\"ok\\"}"}', 2, 200, {"data": "ok"}),
        (b'{"request-id":3,"state":404,"payload":{"error":{"code":404,"message":"page not found"}}}', 3, 404,
         {"error": {"code": 404, "message": "page not found"}}),
        (b'{"request-id":-1,"state":400,"payload":{"code":400,"message":"request time invalid(before now)"}}',
         None, 400, {"code": 400, "message": "request time invalid(before now)"}),
        (b'{"request-id":"x","state":200,"payload":{}}', None, 200, {}),
        (b'{"request-id":"4","state":200,"payload":"not json"}', 4, 200, "not json"),
    ],
)  # fmt: skip
def test_answers_are_read_with_either_payload_form(
    raw: bytes, request_id: int | None, state: int, payload: object
) -> None:
    assert tpe.parse_answer(raw) == tpe.RemoteAnswer(request_id, state, payload)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b"{",
        b'{"request-id":"1"}',
        b'{"request-id":"1","state":"200"}',
        b'{"state":true}',
        b"\xff",
    ],
)
def test_an_answer_that_is_not_moxas_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidRequest):
        tpe.parse_answer(raw)


def test_one_request_is_in_flight_at_a_time_and_queued_ones_go_in_id_order() -> None:
    queue = [command(1, State.DELIVERED, delivered=NOW - 5_000), command(2), command(3)]
    assert tpe.next_action(queue, NOW) == tpe.NextAction((), None)
    assert tpe.next_action(queue[1:], NOW).deliver == queue[1]


def test_a_request_unanswered_past_its_window_is_failed_and_the_next_one_goes() -> None:
    stale = command(1, State.DELIVERED, delivered=NOW - tpe.ANSWER_WINDOW_MS)
    action = tpe.next_action([stale, command(2)], NOW)
    assert action.fail == (stale,) and action.deliver is not None and action.deliver.seq == 2


def test_an_expired_request_is_never_the_next_to_send() -> None:
    expired = command(1, expires=NOW)
    assert tpe.next_action([expired, command(2)], NOW).deliver == command(2)
    assert tpe.next_action([expired], NOW).deliver is None


@pytest.mark.parametrize(
    ("event", "current", "newer"),
    [
        (
            tpe.Presence(True, 2, 10),
            tpe.Presence(False, 1, 20),
            True,
        ),  # a later connection, whatever the clock
        (tpe.Presence(False, 1, 20), tpe.Presence(True, 2, 10), False),  # the end of an older connection
        (tpe.Presence(False, 2, 30), tpe.Presence(True, 2, 10), True),  # this connection ended
        (tpe.Presence(True, 2, 10), tpe.Presence(False, 2, 30), False),  # its start, arriving late
        (tpe.Presence(True, 2, 10), tpe.Presence(True, 2, 10), False),  # a duplicate
        (tpe.Presence(True, 0, 50), tpe.Presence(False, 0, 40), True),  # unnumbered: by time
        (tpe.Presence(True, 1, 5), None, True),
    ],
)
def test_lifecycle_events_are_ordered_by_connection_then_by_end(
    event: tpe.Presence, current: tpe.Presence | None, newer: bool
) -> None:
    assert tpe.newer(event, current) is newer


def test_lifecycle_events_are_read_from_iot_cores_message() -> None:
    event = {
        "clientId": GW,
        "timestamp": 5,
        "eventType": "disconnected",
        "versionNumber": 3,
        "clientInitiatedDisconnect": True,
        "disconnectReason": "CLIENT_INITIATED_DISCONNECT",
    }
    assert tpe.parse_presence(event) == (GW, tpe.Presence(False, 3, 5))
    assert tpe.parse_presence({**event, "eventType": "subscribed"}) is None
    assert tpe.parse_presence({**event, "timestamp": "5"}) is None
    assert tpe.parse_presence("nope") is None


def test_secrets_are_sealed_in_what_is_kept_and_unsealed_only_for_the_gateway() -> None:
    body = {"server": "b", "password": "hunter2", "brokerList": [{"password": "p2"}, {"password": ""}]}
    paths = [("password",), ("brokerList", 0, "password"), ("brokerList", 1, "password")]
    sealed = tpe.seal(body, paths, lambda plain: plain[::-1] + "!")
    assert sealed == {
        "server": "b",
        "password": {tpe.SEALED: "2retnuh!"},
        "brokerList": [{"password": {tpe.SEALED: "2p!"}}, {"password": ""}],
    }
    assert body["password"] == "hunter2"  # the caller's body is left alone
    assert tpe.unseal(sealed, lambda c: c[:-1][::-1]) == body
    assert tpe.masked(sealed) == {
        "server": "b",
        "password": tpe.MASK,
        "brokerList": [{"password": tpe.MASK}, {"password": ""}],
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "system/x"),
        ("TRACE", "/x"),
        ("PUT", "/api/v1/mqtt"),
        ("PUT", "/a//b"),
        ("PUT", "/a\nb"),
        (None, "/x"),
    ],
)
def test_a_request_must_name_a_method_and_a_gateway_path(method: object, path: object) -> None:
    with pytest.raises(InvalidRequest):
        tpe.check_request(method, path)


def test_a_request_lifetime_is_bounded() -> None:
    assert tpe.lifetime_ms(None) == tpe.DEFAULT_LIFETIME_S * 1000
    assert tpe.lifetime_ms(60) == 60_000
    for bad in (True, 9, tpe.MAX_LIFETIME_S + 1, "60", 1.5):
        with pytest.raises(InvalidRequest):
            tpe.lifetime_ms(bad)


def test_the_target_keeps_the_query() -> None:
    request = tpe.RemoteRequest("GET", "/sparkplug", None, {"event": "true"})
    assert request.target == "/sparkplug?event=true"
    assert replace(request, query={}).target == "/sparkplug"
