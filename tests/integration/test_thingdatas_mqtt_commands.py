"""ThingDatas command answers over MQTT (``TdOnCommandResponseFunction``, invoked by the topic rule
``TdCommandResponseRule``), in process against moto: the events are the rule's SELECT result
(``events/thingdatas/on_command_response*.json``), the commands are sent through the operator API, and
replies are read from what moto's IoT data plane recorded and from the ``Publish`` calls' parameters.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from fleetgate.errors import Retryable
from fleetgate_local.inprocess import load_event, recorded_aws_calls
from fleetgate_local.template import Template
from tests.integration.conftest import EVENTS, Device, Stack, create_api_key, create_device
from tests.integration.test_thingdatas_commands import (
    IOT_DATA_ENDPOINT,
    ROOT,
    SEED_EXECUTION_ID,
    THING,
    backdate,
    cancel,
    item,
    published,
    read,
    respond,
    sent,
)

RULE_FUNCTION = "TdOnCommandResponseFunction"


@pytest.fixture
def template() -> Template:
    """The template with ``IotDataEndpoint`` at the address moto's mock serves (as in the HTTPS tests)."""
    return Template.load(ROOT / "template.yaml", {"IotDataEndpoint": IOT_DATA_ENDPOINT})


@pytest.fixture
def thing(stack: Stack) -> Device:
    return create_device(stack, THING)


def message(name: str = "on_command_response", execution_id: str = SEED_EXECUTION_ID, **fields: Any) -> dict:
    """The named rule event addressed to ``execution_id``; ``fields`` replace the SELECT's values (None
    removes one), ``body`` replaces the payload (as base64 text, like ``encode(*, 'base64')``)."""
    ev = load_event(EVENTS / "thingdatas" / f"{name}.json", **{SEED_EXECUTION_ID: execution_id})
    body = fields.pop("body", None)
    if body is not None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        ev["payload"] = base64.b64encode(raw).decode()
    for key, value in fields.items():
        if value is None:
            ev.pop(key, None)
        else:
            ev[key] = value
    return ev


def deliver(stack: Stack, ev: Any) -> list[tuple[str, Any, dict[str, Any]]]:
    """Invoke the rule function; returns the replies it published: (topic, JSON payload, call params)."""
    with recorded_aws_calls() as calls:
        assert stack.invoke(RULE_FUNCTION, ev) is None
    return [
        (c.params["topic"], json.loads(c.params["payload"]), c.params)
        for c in calls
        if c.operation == "Publish"
    ]


def stable(data: dict[str, Any]) -> dict[str, Any]:
    """An execution as the operator reads it, without what differs between two executions."""
    varying = ("executionId", "commandId", "createdAt", "expiresAt", "respondedAt", "updatedAt")
    return {k: v for k, v in data.items() if k not in varying}


# --------------------------------------------------------------------------- accepted answers
def test_an_answer_changes_the_execution_exactly_as_the_https_route_does(stack: Stack, thing: Device) -> None:
    over_mqtt = sent(stack, thing)["executionId"]
    over_https = sent(stack, thing)["executionId"]

    replies = deliver(stack, message(execution_id=over_mqtt))
    status, _ = respond(stack, create_api_key(stack), over_https, clientToken=None)

    assert status == 200
    _, by_mqtt = read(stack, thing.id, over_mqtt)
    _, by_https = read(stack, thing.id, over_https)
    assert by_mqtt["data"]["status"] == "SUCCEEDED"
    assert by_mqtt["data"]["result"] == {"currentTemperature": 24}
    assert stable(by_mqtt["data"]) == stable(by_https["data"])
    [(topic, payload, params)] = replies
    assert topic == f"fleetgate/commands/things/{THING}/executions/{over_mqtt}/response/accepted"
    assert payload == {"thingName": THING, "executionId": over_mqtt, "status": "SUCCEEDED"}
    assert base64.b64decode(params["correlationData"]) == b"answer-1"  # echoed as the device sent it
    assert (topic, json.dumps(payload, separators=(",", ":")).encode()) in published()


def test_a_json_payload_without_mqtt5_properties_is_recorded_and_not_answered(
    stack: Stack, thing: Device
) -> None:
    execution_id = sent(stack, thing)["executionId"]

    replies = deliver(stack, message("on_command_response_mqtt3_json", execution_id))

    assert replies == []
    assert read(stack, thing.id, execution_id)[1]["data"]["status"] == "SUCCEEDED"


def test_a_repeated_message_is_idempotent(stack: Stack, thing: Device) -> None:
    execution_id = sent(stack, thing)["executionId"]
    deliver(stack, message(execution_id=execution_id))
    first = item(stack, thing.id, execution_id)

    replies = deliver(stack, message(execution_id=execution_id))  # AWS retried the invocation

    assert item(stack, thing.id, execution_id) == first
    assert [payload["status"] for _, payload, _ in replies] == ["SUCCEEDED"]


# --------------------------------------------------------------------------- refused and dropped
def test_another_client_id_is_dropped_without_a_reply(stack: Stack, thing: Device) -> None:
    execution_id = sent(stack, thing)["executionId"]
    before = item(stack, thing.id, execution_id)

    for client in ("thermostat-002", None, "n/a"):
        assert deliver(stack, message(execution_id=execution_id, clientId=client)) == []

    assert item(stack, thing.id, execution_id) == before
    assert before["status"]["S"] == "SENT"


def test_an_answer_to_an_ended_execution_gets_the_error_reply(stack: Stack, thing: Device) -> None:
    execution_id = sent(stack, thing)["executionId"]
    cancel(stack, thing.id, execution_id)

    [(topic, payload, params)] = deliver(stack, message(execution_id=execution_id))

    assert topic.endswith(f"/executions/{execution_id}/response/accepted")
    assert payload["code"] == "InvalidStateTransition"
    assert payload["status"] == "CANCELED"
    assert base64.b64decode(params["correlationData"]) == b"answer-1"


def test_a_late_answer_records_timed_out_and_gets_the_error_reply(stack: Stack, thing: Device) -> None:
    execution_id = sent(stack, thing)["executionId"]
    backdate(stack, thing.id, execution_id)

    [(_, payload, _)] = deliver(stack, message(execution_id=execution_id))

    assert payload["code"] == "InvalidStateTransition"
    assert item(stack, thing.id, execution_id)["status"]["S"] == "TIMED_OUT"


def test_an_unknown_execution_gets_a_not_found_reply_and_nothing_is_created(
    stack: Stack, thing: Device
) -> None:
    unknown = "0b6a4f0e-5c1d-4e8a-9f3b-2d7c6e5a4b3c"

    [(_, payload, _)] = deliver(stack, message(execution_id=unknown))

    assert payload["code"] == "ResourceNotFound"
    assert stack.count_items("CommandsTable") == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"body": b"not json"},
        {"body": [1, 2]},
        {"body": {"status": "DONE"}},
        {"body": {"status": "SUCCEEDED", "thingName": "thermostat-002"}},
        {"body": {"status": "SUCCEEDED", "executionId": "0b6a4f0e-5c1d-4e8a-9f3b-2d7c6e5a4b3c"}},
        {"body": {"status": "SUCCEEDED", "surprise": 1}},
        {"body": {"status": "SUCCEEDED", "clientToken": "x" * 65}},
    ],
)
def test_a_bad_payload_gets_an_invalid_request_reply_and_changes_nothing(
    stack: Stack, thing: Device, fields: dict[str, Any]
) -> None:
    execution_id = sent(stack, thing)["executionId"]
    before = item(stack, thing.id, execution_id)

    [(_, payload, _)] = deliver(stack, message(execution_id=execution_id, **fields))

    assert payload["code"] == "InvalidRequest"
    assert item(stack, thing.id, execution_id) == before


def test_replies_go_only_under_the_senders_own_topics(stack: Stack, thing: Device) -> None:
    execution_id = sent(stack, thing)["executionId"]
    prefix = f"fleetgate/commands/things/{THING}/executions/{execution_id}"

    for topic in (
        "fleetgate/commands/things/thermostat-002/inbox",  # another thing's topic
        "elsewhere/entirely",
        f"{prefix}/response",  # the rule's own topic: a reply there would loop
    ):
        assert deliver(stack, message(execution_id=execution_id, responseTopic=topic)) == []

    assert item(stack, thing.id, execution_id)["status"]["S"] == "SUCCEEDED"  # recorded all the same


RAW = object()  # marks a case sent as it is, not applied to the fixture
MALFORMED: list[Any] = [  # one of each kind; every kind is in tests/unit/test_mqtt_messages.py
    (RAW, None),
    (RAW, {}),
    {"topic": None},
    {"payload": "%%% not base64 %%%"},
    {"correlationData": "***"},
    {"userProperties": [{"key": "k"}]},
    {"topic": f"fleetgate/commands/things/{THING}/executions/{SEED_EXECUTION_ID}/request"},
    {"payload": base64.b64encode(b"{" * 2_000_000).decode()},  # far over the payload limit
    {"payload": {"status": "SUCCEEDED", "timestamp": "now"}},  # a JSON payload of the wrong shape
]


@pytest.mark.parametrize("case", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_malformed_events_never_raise_and_write_nothing(stack: Stack, thing: Device, case: Any) -> None:
    execution_id = sent(stack, thing)["executionId"]
    before = item(stack, thing.id, execution_id)
    if isinstance(case, tuple) and case[0] is RAW:
        ev = copy.deepcopy(case[1])
    else:
        ev = message(execution_id=SEED_EXECUTION_ID, **{k: copy.deepcopy(v) for k, v in case.items()})
        ev = json.loads(json.dumps(ev).replace(SEED_EXECUTION_ID, execution_id))

    replies = deliver(stack, ev)

    assert item(stack, thing.id, execution_id) == before
    assert stack.count_items("CommandsTable") == 1
    assert all(payload["code"] in ("InvalidRequest", "PayloadTooLarge") for _, payload, _ in replies)


def test_transient_failures_are_raised_so_that_aws_retries(
    stack: Stack, thing: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = sent(stack, thing)["executionId"]
    from fleetgate.dialects.thingdatas import commands  # noqa: PLC0415 - the function's environment is loaded now

    def busy(*_: Any) -> Any:
        raise Retryable("The service is busy; retry the request")

    monkeypatch.setattr(commands, "respond", busy)

    with pytest.raises(Retryable):
        stack.invoke(RULE_FUNCTION, message(execution_id=execution_id))
    assert item(stack, thing.id, execution_id)["status"]["S"] == "SENT"
