"""The local rules engine's SQL (``fleetgate_local.mqtt.sql``): the 2016-03-23 subset the template's
rules use, with AWS's rule that undefined values are left out of the result."""

# ruff: noqa: S608 - these are AWS IoT rules statements built from test parameters, run on no database

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from fleetgate.mqtt import SELECT, Message
from fleetgate_local.mqtt.sql import MessageContext, SqlError, parse, topic_matches

TOPIC = "fleetgate/commands/things/t-1/executions/e-1/response"


def message(payload: Any = None, **fields: Any) -> MessageContext:
    raw = (
        payload if isinstance(payload, bytes) else json.dumps(payload if payload is not None else {}).encode()
    )
    return MessageContext(**{"topic": TOPIC, "payload": raw, **fields})


def select(sql: str, msg: MessageContext | None = None) -> Any:
    return parse(sql).evaluate(msg or message())


# --------------------------------------------------------------------------- the template's SELECT
def test_the_one_select_of_fleetgate_mqtt_builds_the_event_message_reads() -> None:
    # Given an MQTT 5 message with every property the SELECT asks for
    msg = message(
        {"status": "SUCCEEDED"},
        client_id="t-1",
        principal="abc123",
        timestamp_ms=1_700_000_000_000,
        user_properties=(("k", "v1"), ("k", "v2")),
        response_topic="fleetgate/commands/things/t-1/replies",
        correlation_data=b"\x00\x01",
    )

    event = select(SELECT + f" FROM '{TOPIC}'", msg)

    parsed = Message.from_rule_event(event, payload_limit=1024)
    assert parsed.json() == {"status": "SUCCEEDED"}
    assert (parsed.topic, parsed.client_id, parsed.principal, parsed.timestamp_ms) == (
        TOPIC,
        "t-1",
        "abc123",
        1_700_000_000_000,
    )
    assert parsed.user_properties == (("k", "v1"), ("k", "v2"))
    assert (parsed.response_topic, parsed.correlation_data) == (
        "fleetgate/commands/things/t-1/replies",
        b"\x00\x01",
    )


def test_properties_the_message_lacks_are_left_out_of_the_event() -> None:
    event = select(SELECT + " FROM '#'", message(b"\xff raw"))

    assert event == {
        "payload": base64.b64encode(b"\xff raw").decode(),
        "topic": TOPIC,
        "clientId": "n/a",
        "timestamp": 0,
    }


# --------------------------------------------------------------------------- each function
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("topic()", TOPIC),
        ("topic(1)", "fleetgate"),
        ("topic(4)", "t-1"),
        ("clientid()", "dev"),
        ("principal()", "p1"),
        ("timestamp()", 42),
        ("encode(*, 'base64')", base64.b64encode(b'{"a": 1}').decode()),
        ("newuuid()", "uuid-1"),
        (
            "get_user_properties()",
            [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}, {"key": "a", "value": "3"}],
        ),
        ("get_user_properties('a')", ["1", "3"]),
        ("get_mqtt_property('response_topic')", "r/t"),
        ("get_mqtt_property('correlation_data')", base64.b64encode(b"cd").decode()),
        ("get_mqtt_property('content_type')", "application/json"),
        ("get_mqtt_property('format_indicator')", "UTF8_DATA"),
    ],
)
def test_each_function_gives_what_aws_documents(expression: str, expected: Any) -> None:
    msg = MessageContext(
        topic=TOPIC,
        payload=b'{"a": 1}',
        client_id="dev",
        principal="p1",
        timestamp_ms=42,
        user_properties=(("a", "1"), ("b", "2"), ("a", "3")),
        response_topic="r/t",
        correlation_data=b"cd",
        content_type="application/json",
        payload_format=1,
        new_uuid=lambda: "uuid-1",
    )

    assert select(f"SELECT {expression} AS x FROM '#'", msg) == {"x": expected}


def test_a_payload_format_of_bytes_is_unspecified_bytes() -> None:
    msg = message(payload_format=0)

    assert select("SELECT get_mqtt_property('format_indicator') AS f FROM '#'", msg) == {
        "f": "UNSPECIFIED_BYTES"
    }


@pytest.mark.parametrize(
    "expression",
    [
        "topic(9)",
        "topic(0)",
        "principal()",
        "get_user_properties()",
        "get_user_properties('missing')",
        "get_mqtt_property('response_topic')",
        "get_mqtt_property('correlation_data')",
        "get_mqtt_property('content_type')",
        "get_mqtt_property('format_indicator')",
        "nothing.here",
        "list[5]",
    ],
)
def test_an_undefined_value_is_left_out(expression: str) -> None:
    assert select(f"SELECT {expression} AS x, 'kept' AS y FROM '#'", message({"list": [1]})) == {"y": "kept"}


# --------------------------------------------------------------------------- projections
def test_star_merges_the_payload_and_paths_are_named_after_their_last_field() -> None:
    msg = message({"a": {"b": 2}, "arr": [10, 20]})

    assert select("SELECT *, a.b, arr[1], arr[-1] AS last, 'lit' AS l, 7 AS n FROM '#'", msg) == {
        "a": {"b": 2},
        "arr": 20,  # a path alone is named after its last field (and overrides *'s one)
        "b": 2,
        "last": 20,
        "l": "lit",
        "n": 7,
    }


def test_select_value_returns_the_value_itself() -> None:
    assert select("SELECT VALUE arr FROM '#'", message({"arr": [1, 2]})) == [1, 2]


def test_star_of_a_payload_that_is_not_a_json_object_cannot_be_an_event() -> None:
    with pytest.raises(SqlError, match="JSON object"):
        select("SELECT * FROM '#'", message(b"not json"))


# --------------------------------------------------------------------------- FROM
@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/b/c", False),
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/+", "a", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "x/y", True),
        ("+/+", "a/b", True),
        ("+", "a/b", False),
        ("a/b/#", "a/c", False),
    ],
)
def test_from_matches_topics_as_mqtt_filters_do(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected
    assert parse(f"SELECT * FROM '{topic_filter}'").matches(topic) is expected


# --------------------------------------------------------------------------- WHERE
@pytest.mark.parametrize(
    ("condition", "passes"),
    [
        ("n = 5", True),
        ("n <> 5", False),
        ("n != 4", True),
        ("n < 6 AND n <= 5", True),
        ("n > 5 OR n >= 5", True),
        ("s = 'on'", True),
        ("s > 'a'", True),
        ("NOT (s = 'off')", True),
        ("NOT s = 'on'", False),
        ("(n = 1 OR n = 5) AND s = 'on'", True),
        ("flag = true", True),
        ("topic(4) = 't-1'", True),
        ("clientid() = 'dev'", True),
        ("missing = 1", False),  # undefined: not true
        ("NOT missing = 1", False),  # still undefined
        ("missing = 1 OR n = 5", True),
        ("missing = 1 AND n = 6", False),
        ("n = '5'", False),  # different types: undefined
        ("s < 5", False),
    ],
)
def test_where_keeps_only_messages_it_finds_true(condition: str, passes: bool) -> None:
    msg = message({"n": 5, "s": "on", "flag": True}, client_id="dev")

    result = select(f"SELECT n FROM '#' WHERE {condition}", msg)

    assert (result is not None) is passes


# --------------------------------------------------------------------------- unsupported SQL
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a + 1 AS x FROM '#'",
        "SELECT topic() FROM '#'",  # a function needs a name
        "SELECT 'x' FROM '#'",
        "SELECT lower(a) AS x FROM '#'",
        "SELECT encode(a, 'base64') AS x FROM '#'",
        "SELECT get_mqtt_property('message_expiry') AS x FROM '#'",
        "SELECT * FROM topic",
        "SELECT * FROM '#' WHERE",
        "SELECT * FROM '#' ORDER BY a",
        "SELECT CASE a WHEN 1 THEN 2 END AS x FROM '#'",
        "SELECT VALUE a, b FROM '#'",
        "DELETE FROM '#'",
        "SELECT * FROM '#' WHERE a = @",
    ],
)
def test_sql_outside_the_subset_is_an_error_at_parse(sql: str) -> None:
    with pytest.raises(SqlError):
        parse(sql)
