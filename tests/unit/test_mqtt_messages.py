"""The MQTT entry point: IoT topic-rule events (the SELECT of ``fleetgate.mqtt``) become typed
``Message``s, and ``serve_message`` never raises for a bad one (only ``Retryable`` escapes)."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetgate.endpoint import Result, done, serve_message
from fleetgate.errors import FleetgateError, InvalidRequest, NotFound, PayloadTooLarge, Retryable
from fleetgate.mqtt import Message

EVENTS = Path(__file__).resolve().parents[2] / "events" / "thingdatas"
LIMIT = 1024
TOPIC = "fleetgate/commands/things/thermostat-001/executions/8d88790c-9171-4526-8637-e6d6168bce22/response"


def fixture(name: str = "on_command_response") -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


def parse(event: Any) -> Message:
    return Message.from_rule_event(event, payload_limit=LIMIT)


# --------------------------------------------------------------------------- well-formed events
def test_an_mqtt5_event_with_a_base64_payload_carries_every_property() -> None:
    message = parse(fixture())

    assert message.topic == TOPIC
    assert message.json() == {
        "status": "SUCCEEDED",
        "result": {"currentTemperature": 24},
        "timestamp": 1748390405,
    }
    assert message.client_id == "thermostat-001"
    assert message.principal and len(message.principal) == 64
    assert message.timestamp_ms == 1795341600123
    assert message.user_properties == (("firmware", "2.4.1"),)
    assert message.response_topic == TOPIC + "/accepted"
    assert message.correlation_data == b"answer-1"


def test_an_mqtt3_event_with_a_json_payload_has_no_properties() -> None:
    message = parse(fixture("on_command_response_mqtt3_json"))

    assert message.json()["status"] == "SUCCEEDED"
    assert (message.response_topic, message.correlation_data, message.user_properties) == (None, None, ())


def test_a_binary_payload_is_kept_as_bytes_and_is_not_json() -> None:
    message = parse({**fixture(), "payload": base64.b64encode(b"\x00\xff\xfe").decode()})

    assert message.payload == b"\x00\xff\xfe"
    with pytest.raises(InvalidRequest):
        message.json()


def test_user_properties_as_an_object_and_clientid_na() -> None:
    message = parse({**fixture(), "userProperties": {"a": "1", "b": ["2", "3"]}, "clientId": "n/a"})

    assert message.user_properties == (("a", "1"), ("b", "2"), ("b", "3"))
    assert message.client_id is None


def test_a_payload_at_the_limit_is_accepted_and_one_byte_more_is_too_large() -> None:
    assert len(parse({**fixture(), "payload": base64.b64encode(b"x" * LIMIT).decode()}).payload) == LIMIT
    with pytest.raises(PayloadTooLarge):
        parse({**fixture(), "payload": base64.b64encode(b"x" * (LIMIT + 1)).decode()})
    with pytest.raises(PayloadTooLarge):
        parse({**fixture(), "payload": "A" * 50_000_000})  # refused before it is decoded


# --------------------------------------------------------------------------- malformed events
MALFORMED: list[Any] = [
    None,
    [],
    "text",
    42,
    {},
    {"payload": "e30="},  # no topic
    {"topic": TOPIC},  # no payload
    {"topic": 42, "payload": "e30="},
    {"topic": "a/+/b", "payload": "e30="},
    {"topic": "a/#", "payload": "e30="},
    {"topic": "x" * 300, "payload": "e30="},
    {"topic": TOPIC, "payload": "%%%"},
    {"topic": TOPIC, "payload": "e30"},  # bad padding
    {"topic": TOPIC, "payload": 12},
    {"topic": TOPIC, "payload": True},
    {"topic": TOPIC, "payload": "e30=", "clientId": 7},
    {"topic": TOPIC, "payload": "e30=", "principal": {}},
    {"topic": TOPIC, "payload": "e30=", "timestamp": "now"},
    {"topic": TOPIC, "payload": "e30=", "timestamp": True},
    {"topic": TOPIC, "payload": "e30=", "timestamp": 1.5},
    {"topic": TOPIC, "payload": "e30=", "responseTopic": 3},
    {"topic": TOPIC, "payload": "e30=", "correlationData": "***"},
    {"topic": TOPIC, "payload": "e30=", "correlationData": 5},
    {"topic": TOPIC, "payload": "e30=", "userProperties": "k=v"},
    {"topic": TOPIC, "payload": "e30=", "userProperties": [{"key": "k"}]},
    {"topic": TOPIC, "payload": "e30=", "userProperties": [["k", "v"]]},
    {"topic": TOPIC, "payload": "e30=", "userProperties": {"k": 1}},
    {"topic": TOPIC, "payload": "e30=", "userProperties": [{"key": "k", "value": "v"}] * 101},
]


@pytest.mark.parametrize("event", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_a_malformed_event_is_an_invalid_request(event: Any) -> None:
    with pytest.raises(InvalidRequest):
        parse(copy.deepcopy(event))  # (PayloadTooLarge only for a payload over the limit, above)


class Spy:
    """An endpoint and the dialect's reply and refuse, recording what they were given."""

    def __init__(self, raises: BaseException | None = None) -> None:
        self.raises = raises
        self.handled: list[Message] = []
        self.replies: list[Result] = []
        self.refusals: list[tuple[Message | None, FleetgateError]] = []

    def endpoint(self, message: Message) -> Result:
        self.handled.append(message)
        if self.raises:
            raise self.raises
        return done({"ok": True})

    def reply(self, message: Message, result: Result) -> None:
        self.replies.append(result)

    def refuse(self, message: Message | None, exc: FleetgateError) -> None:
        self.refusals.append((message, exc))

    def serve(self, event: Any) -> None:
        serve_message(event, self.endpoint, self.reply, self.refuse, payload_limit=LIMIT)


@pytest.mark.parametrize("event", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_serving_a_malformed_event_never_raises_and_never_reaches_the_endpoint(event: Any) -> None:
    spy = Spy()

    spy.serve(copy.deepcopy(event))

    assert spy.handled == [] and spy.replies == []
    [(message, error)] = spy.refusals
    assert message is None and isinstance(error, InvalidRequest)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    ),
    st.dictionaries(
        st.sampled_from(
            [
                "topic",
                "payload",
                "clientId",
                "principal",
                "timestamp",
                "userProperties",
                "responseTopic",
                "correlationData",
            ]
        ),
        st.none() | st.integers() | st.text(max_size=30) | st.lists(st.text(max_size=5), max_size=3),
    ),
)
def test_no_event_raises_anything_but_a_refusal(noise: Any, fields: dict[str, Any]) -> None:
    for event in (noise, {**fixture(), **fields}):
        with contextlib.suppress(InvalidRequest, PayloadTooLarge):
            parse(event)
        Spy().serve(event)  # and serving it never raises


def test_a_refused_message_reaches_the_dialects_refuse_with_the_message() -> None:
    spy = Spy(raises=NotFound("no such execution"))

    spy.serve(fixture())

    [(message, error)] = spy.refusals
    assert message is not None and message.topic == TOPIC
    assert isinstance(error, NotFound) and spy.replies == []


def test_an_unexpected_failure_is_refused_not_raised() -> None:
    spy = Spy(raises=RuntimeError("a bug"))

    spy.serve(fixture())

    [(_, error)] = spy.refusals
    assert type(error) is FleetgateError and error.status == 500


def test_only_a_transient_failure_is_raised_so_that_aws_retries() -> None:
    spy = Spy(raises=Retryable("busy"))

    with pytest.raises(Retryable):
        spy.serve(fixture())
    assert spy.refusals == []


def test_a_result_is_replied_and_a_failing_reply_or_refusal_is_not_raised() -> None:
    spy = Spy()
    spy.serve(fixture())
    assert [r.value for r in spy.replies] == [{"ok": True}]

    def broken(*_: Any) -> None:
        raise RuntimeError("publish failed")

    serve_message(fixture(), spy.endpoint, broken, broken, payload_limit=LIMIT)
    serve_message(None, spy.endpoint, broken, broken, payload_limit=LIMIT)
