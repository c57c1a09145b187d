"""ThingsBoard device payloads: telemetry and attribute shapes, value typing, and Gson-lenient JSON.

Rules under test: docs/thingsboard.md, "Payloads and value typing" (lenient JSON, shapes, typing, and
the number cases of ThingsBoard's own converter tests). Bodies go through
``loads_lenient(text, keep_number_literals=True)`` exactly as the dialect reads them, so numbers keep the
form they were written in.
"""

from __future__ import annotations

from typing import Any

import pytest

from fleetgate.dialects.thingsboard import error_response, parse_attributes, parse_telemetry, typed_value
from fleetgate.domain.telemetry import TelemetryRecord
from fleetgate.errors import Conflict, InvalidRequest, VersionConflict
from fleetgate.jsonutil import NumberLiteral, dumps, loads, loads_lenient, plain

SERVER_TS = 1_700_000_000_123
DOC_TS = 1451649600512  # Fri, 01 Jan 2016 12:00:00.512 GMT, from ThingsBoard's documentation

DOCUMENTED_VALUES_JSON = """{
  "stringKey": "value1",
  "booleanKey": true,
  "doubleKey": 42.0,
  "longKey": 73,
  "jsonKey": {
    "someNumber": 42,
    "someArray": [1,2,3],
    "someNestedObject": {"key": "value"}
  }
}"""
DOCUMENTED_VALUES = {
    "stringKey": "value1",
    "booleanKey": True,
    "doubleKey": 42.0,
    "longKey": 73,
    "jsonKey": {"someNumber": 42, "someArray": [1, 2, 3], "someNestedObject": {"key": "value"}},
}


def _body(text: str) -> Any:
    """A request body as the ThingsBoard dialect reads it."""
    return loads_lenient(text, keep_number_literals=True)


def _telemetry(text: str) -> list[TelemetryRecord]:
    return parse_telemetry(_body(text), server_ts=SERVER_TS)


def _typed(literal: str) -> Any:
    """The typed value of ``literal`` written as a telemetry value."""
    return typed_value(_body('{"v": ' + literal + "}")["v"])


# --------------------------------------------------------------------------- telemetry shapes
def test_telemetry_object_is_one_record_at_server_time():
    # Given the documented plain object
    # When it is parsed
    records = _telemetry('{"key1":"value1", "key2":"value2"}')

    # Then it is one record stamped with the server's time
    assert records == [TelemetryRecord(SERVER_TS, {"key1": "value1", "key2": "value2"})]


def test_telemetry_array_is_one_record_per_element():
    # Given the documented array of objects
    # When it is parsed
    records = _telemetry('[{"key1":"value1"}, {"key2":true}]')

    # Then each element is a record at server time
    assert records == [
        TelemetryRecord(SERVER_TS, {"key1": "value1"}),
        TelemetryRecord(SERVER_TS, {"key2": True}),
    ]


def test_telemetry_with_ts_and_values_uses_the_client_timestamp():
    # Given the documented timestamped object
    # When it is parsed
    records = _telemetry('{"ts":1451649600512, "values":{"key1":"value1", "key2":"value2"}}')

    # Then the record carries the client's timestamp
    assert records == [TelemetryRecord(DOC_TS, {"key1": "value1", "key2": "value2"})]


def test_documented_key_value_example_is_typed_like_thingsboard():
    # Given the documented key-value file
    # When it is parsed
    records = _telemetry(DOCUMENTED_VALUES_JSON)

    # Then values keep their types: a double stays a double and a long stays a long
    assert records == [TelemetryRecord(SERVER_TS, DOCUMENTED_VALUES)]
    values = records[0].values
    assert type(values["doubleKey"]) is float
    assert type(values["longKey"]) is int
    assert dumps(values["doubleKey"]) == "42.0"


def test_documented_timestamped_key_value_example_is_typed_like_thingsboard():
    # Given the documented timestamped key-value file
    text = '{"ts": 1451649600512, "values": ' + DOCUMENTED_VALUES_JSON + "}"

    # When it is parsed
    records = _telemetry(text)

    # Then the record has the client timestamp and the typed values
    assert records == [TelemetryRecord(DOC_TS, DOCUMENTED_VALUES)]


def test_object_with_ts_but_no_values_keeps_ts_as_a_key():
    # Given an object with "ts" but without "values"
    # When it is parsed
    records = _telemetry('{"ts": 1451649600512, "temperature": 21}')

    # Then it is plain data at server time and "ts" is a telemetry key
    assert records == [TelemetryRecord(SERVER_TS, {"ts": DOC_TS, "temperature": 21})]


def test_array_may_mix_timestamped_and_plain_objects():
    # Given an array mixing both forms
    # When it is parsed
    records = _telemetry('[{"ts": 1451649600512, "values": {"a": 1}}, {"b": 2}]')

    # Then each element keeps its own form
    assert records == [TelemetryRecord(DOC_TS, {"a": 1}), TelemetryRecord(SERVER_TS, {"b": 2})]


def test_empty_array_gives_no_records():
    # Given an empty array
    # When it is parsed
    records = _telemetry("[]")

    # Then there are no records
    assert records == []


def test_empty_object_gives_one_record_with_no_values():
    # Given an empty object (the SDK's connection test)
    # When it is parsed
    records = _telemetry("{}")

    # Then it is one record without values
    assert records == [TelemetryRecord(SERVER_TS, {})]


def test_telemetry_without_server_ts_is_stamped_with_the_current_time(monkeypatch):
    # Given a clock reading 1700000000.5 seconds
    monkeypatch.setattr("fleetgate.clock.time.time", lambda: 1_700_000_000.5)

    # When a plain object is parsed without a server timestamp
    records = parse_telemetry({"a": 1})

    # Then the record is stamped with the clock in milliseconds
    assert records == [TelemetryRecord(1_700_000_000_500, {"a": 1})]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('[{"a":1}, 5]', "Can't parse value: 5", id="number-element"),
        pytest.param("[[1,2]]", "Can't parse value: [1,2]", id="array-element"),
        pytest.param('["x"]', 'Can\'t parse value: "x"', id="string-element"),
        pytest.param("[null]", "Can't parse value: null", id="null-element"),
        pytest.param("42", "Can't parse value: 42", id="number"),
        pytest.param("1.5", "Can't parse value: 1.5", id="fractional-number"),
        pytest.param("true", "Can't parse value: true", id="boolean"),
        pytest.param('"text"', 'Can\'t parse value: "text"', id="string"),
        pytest.param("null", "Can't parse value: null", id="null"),
        pytest.param("   ", "Can't parse value: null", id="blank-body"),
    ],
)
def test_telemetry_that_is_not_objects_is_rejected(text, message):
    # Given a body that is not an object or an array of objects
    # When it is parsed
    with pytest.raises(InvalidRequest) as caught:
        _telemetry(text)

    # Then ThingsBoard's "Can't parse value" message names the offending value
    assert caught.value.message == message


@pytest.mark.parametrize("values", ["[1]", '"x"', "5", "null"])
def test_timestamped_values_that_are_not_an_object_are_rejected(values):
    # Given a timestamped object whose "values" is not an object
    # When it is parsed
    with pytest.raises(InvalidRequest) as caught:
        _telemetry('{"ts": 1451649600512, "values": ' + values + "}")

    # Then it is refused with ThingsBoard's message
    assert caught.value.message.startswith("Can't parse value:")


@pytest.mark.parametrize(
    "ts",
    [
        pytest.param("-1", id="negative"),
        pytest.param("1451649600512.5", id="fractional"),
        pytest.param("true", id="boolean"),
        pytest.param('"abc"', id="non-numeric-string"),
        pytest.param('"NaN"', id="nan-string"),
        pytest.param('"sNaN"', id="signalling-nan-string"),
        pytest.param('"Infinity"', id="infinity-string"),
        pytest.param("1000000000000000", id="10-to-the-15"),
        pytest.param("1e20", id="far-too-large"),
        pytest.param("{}", id="object"),
    ],
)
def test_bad_ts_is_rejected(ts):
    # Given a timestamped object with an unusable ts
    # When it is parsed
    with pytest.raises(InvalidRequest) as caught:
        _telemetry('{"ts": ' + ts + ', "values": {"a": 1}}')

    # Then it is refused as an invalid ts
    assert caught.value.message.startswith("Invalid ts:")


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        pytest.param("0", 0, id="zero"),
        pytest.param("999999999999999", 10**15 - 1, id="largest"),
        pytest.param('"1451649600512"', DOC_TS, id="numeric-string"),
        pytest.param("1451649600512.0", DOC_TS, id="integral-fraction"),
    ],
)
def test_usable_ts_is_accepted_as_integer_milliseconds(ts, expected):
    # Given a timestamped object with a usable ts
    # When it is parsed
    records = _telemetry('{"ts": ' + ts + ', "values": {"a": 1}}')

    # Then the record's ts is that integer
    assert records == [TelemetryRecord(expected, {"a": 1})]
    assert type(records[0].ts) is int


# --------------------------------------------------------------------------- attributes
def test_seed_attribute_example_mangled_by_the_shell_is_parsed():
    # Given what the shell makes of --data "{"attribute1": "value1", "attribute2":true, "attribute3": 43.0}"
    text = "{attribute1: value1, attribute2:true, attribute3: 43.0}"

    # When it is parsed as attributes
    attributes = parse_attributes(_body(text))

    # Then value1 is a string, true a boolean and 43.0 a double
    assert attributes == {"attribute1": "value1", "attribute2": True, "attribute3": 43.0}
    assert type(attributes["attribute3"]) is float


def test_documented_attribute_file_is_typed_like_telemetry():
    # Given the documented new-attributes-values.json
    text = """{
      "attribute1": "value1", "attribute2": true, "attribute3": 42.0, "attribute4": 73,
      "attribute5": {"someNumber": 42, "someArray": [1,2,3], "someNestedObject": {"key": "value"}}
    }"""

    # When it is parsed as attributes
    attributes = parse_attributes(_body(text))

    # Then each value has ThingsBoard's type
    assert attributes == {
        "attribute1": "value1",
        "attribute2": True,
        "attribute3": 42.0,
        "attribute4": 73,
        "attribute5": {"someNumber": 42, "someArray": [1, 2, 3], "someNestedObject": {"key": "value"}},
    }
    assert (type(attributes["attribute3"]), type(attributes["attribute4"])) == (float, int)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('[{"a":1}]', 'Can\'t parse value: [{"a":1}]', id="array"),
        pytest.param("7", "Can't parse value: 7", id="number"),
        pytest.param("null", "Can't parse value: null", id="null"),
    ],
)
def test_attributes_that_are_not_an_object_are_rejected(text, message):
    # Given an attributes body that is not an object
    # When it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_attributes(_body(text))

    # Then ThingsBoard's message names the value
    assert caught.value.message == message


def test_null_values_are_skipped():
    # Given attributes with a null value
    # When they are parsed
    attributes = parse_attributes(_body('{"gone": null, "kept": 1}'))

    # Then the null key is absent
    assert attributes == {"kept": 1}


def test_null_telemetry_values_are_skipped():
    # Given telemetry with a null value
    # When it is parsed
    records = _telemetry('{"gone": null, "kept": "x"}')

    # Then the null key is absent
    assert records == [TelemetryRecord(SERVER_TS, {"kept": "x"})]


@pytest.mark.parametrize("key", ["", "k" * 256], ids=["empty", "256-characters"])
def test_key_outside_1_to_255_characters_is_rejected(key):
    # Given a value under an empty or over-long key
    # When it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_attributes({key: 1})

    # Then the key is refused
    assert caught.value.message.startswith("Key must be 1-255 characters")


def test_key_of_255_characters_is_accepted():
    # Given a value under a 255-character key
    key = "k" * 255

    # When it is parsed
    attributes = parse_attributes({key: 1})

    # Then it is kept
    assert attributes == {key: 1}


def test_telemetry_key_of_256_characters_is_rejected():
    # Given telemetry with a 256-character key
    # When it is parsed
    with pytest.raises(InvalidRequest):
        parse_telemetry({"k" * 256: 1}, server_ts=SERVER_TS)

    # Then it is refused


# --------------------------------------------------------------------------- value typing
@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        pytest.param("1E+1", 10, id="1E+1-is-long-10"),
        pytest.param("101E-1", 10.1, id="101E-1-is-double-10.1"),
        pytest.param("1E1", 10, id="1E1-is-long-10"),
        pytest.param("1e3", 1000, id="1e3-is-long-1000"),
        pytest.param("42.0", 42.0, id="42.0-is-double"),
        pytest.param("1.1", 1.1, id="1.1-is-double"),
        pytest.param("11", 11, id="11-is-long"),
        pytest.param("73", 73, id="73-is-long"),
        pytest.param("-5", -5, id="negative-long"),
        pytest.param("9.9701010061400066E19", "99701010061400066000", id="9.97E19-is-string"),
        pytest.param("99701010061400066001", "99701010061400066001", id="beyond-long-is-string"),
        pytest.param("1E19", "10000000000000000000", id="1E19-is-string"),
        pytest.param("9223372036854775807", 9223372036854775807, id="long-max-is-long"),
        pytest.param("9223372036854775808", "9223372036854775808", id="long-max-plus-1-is-string"),
        pytest.param("7e-06", 7e-06, id="7e-06-is-double"),
    ],
)
def test_numbers_are_typed_like_thingsboard_json_converter(literal, expected):
    # Given a number written as `literal`
    # When it is typed
    value = _typed(literal)

    # Then it has ThingsBoard's value and type
    assert value == expected
    assert type(value) is type(expected)


def test_double_42_0_is_rendered_as_42_0():
    # Given 42.0 written in a body
    # When it is typed and rendered
    rendered = dumps(_typed("42.0"))

    # Then it keeps its decimal point
    assert rendered == "42.0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('"42"', 42, id="integer-string-is-long"),
        pytest.param('"42.5"', 42.5, id="decimal-string-is-double"),
        pytest.param('"-7"', -7, id="negative-string-is-long"),
        pytest.param('"1e3"', "1e3", id="exponent-string-stays-string"),
        pytest.param('"abc"', "abc", id="text-stays-string"),
        pytest.param('""', "", id="empty-string-stays-string"),
    ],
)
def test_strings_that_read_as_plain_numbers_become_numbers(text, expected):
    # Given a string value
    # When it is typed
    value = _typed(text)

    # Then a plain number string is cast and anything else kept
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("literal", ["true", "false"])
def test_booleans_stay_booleans(literal):
    # Given a boolean value
    # When it is typed
    value = _typed(literal)

    # Then it is that boolean
    assert value is (literal == "true")


def test_nested_objects_keep_inner_values_with_literals_as_floats():
    # Given an object value holding a double, a long, a numeric string and an array
    # When it is typed
    value = _typed('{"d": 42.0, "l": 42, "s": "42", "a": [1.5, 2]}')

    # Then inner values are kept as JSON (no casting), with doubles as floats
    assert value == {"d": 42.0, "l": 42, "s": "42", "a": [1.5, 2]}
    assert not isinstance(value["d"], NumberLiteral)
    assert type(value["d"]) is float
    assert type(value["a"][0]) is float


# --------------------------------------------------------------------------- jsonutil: strict
def test_loads_parses_strict_json():
    # Given strict JSON text
    # When it is loaded
    value = loads('{"a": [1, 2.5, true, null, "x"]}')

    # Then Python values come out
    assert value == {"a": [1, 2.5, True, None, "x"]}


def test_loads_accepts_bytes():
    # Given UTF-8 bytes
    # When they are loaded
    value = loads('{"é": 1}'.encode())

    # Then they are decoded
    assert value == {"é": 1}


def test_loads_can_keep_number_literals_as_written():
    # Given numbers with a fraction and an exponent
    # When they are loaded keeping literals
    value = loads('{"a": 1.50, "b": 1E+1, "c": 3}', keep_number_literals=True)

    # Then fractions and exponents are NumberLiterals with their text, integers stay ints
    assert value == {"a": "1.50", "b": "1E+1", "c": 3}
    assert isinstance(value["a"], NumberLiteral)
    assert isinstance(value["b"], NumberLiteral)
    assert type(value["c"]) is int


@pytest.mark.parametrize("text", ["NaN", '{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'])
def test_loads_rejects_nan_and_infinity(text):
    # Given JSON with a non-finite number
    # When it is loaded strictly
    with pytest.raises(InvalidRequest) as caught:
        loads(text)

    # Then it is invalid JSON
    assert caught.value.message.startswith("Invalid JSON")


@pytest.mark.parametrize(
    "text", ["{a:1}", "{'a':1}", '{"a":1,}', ""], ids=["unquoted", "quotes", "comma", "empty"]
)
def test_loads_rejects_lenient_syntax(text):
    # Given text only a lenient parser accepts (or nothing)
    # When it is loaded strictly
    with pytest.raises(InvalidRequest):
        loads(text)

    # Then it is refused


def test_loads_rejects_invalid_utf8():
    # Given bytes that are not UTF-8
    # When they are loaded
    with pytest.raises(InvalidRequest):
        loads(b'{"a": "\xff"}')

    # Then they are refused


# --------------------------------------------------------------------------- jsonutil: plain, dumps
def test_plain_turns_every_number_literal_into_a_float():
    # Given a structure holding literals at several depths and a plain string
    value = {"a": NumberLiteral("1.5"), "b": [NumberLiteral("1E1"), {"c": NumberLiteral("42.0")}], "s": "1.5"}

    # When it is made plain
    result = plain(value)

    # Then literals are floats and everything else is untouched
    assert result == {"a": 1.5, "b": [10.0, {"c": 42.0}], "s": "1.5"}
    assert type(result["b"][0]) is float
    assert type(result["s"]) is str


def test_dumps_is_compact_and_keeps_non_ascii():
    # Given a value with nesting and non-ASCII text
    # When it is dumped
    text = dumps({"a": [1, 2.0], "é": "ü"})

    # Then there are no spaces and no escapes
    assert text == '{"a":[1,2.0],"é":"ü"}'


def test_dumps_refuses_nan():
    # Given a NaN
    # When it is dumped
    with pytest.raises(ValueError, match="JSON compliant"):
        dumps(float("nan"))

    # Then it is refused


# --------------------------------------------------------------------------- jsonutil: lenient (Gson)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "{temperature:42,humidity:73}", {"temperature": 42, "humidity": 73}, id="seed-telemetry"
        ),
        pytest.param("{'k':'v'}", {"k": "v"}, id="single-quotes"),
        pytest.param(r"{'it\'s':1}", {"it's": 1}, id="escaped-single-quote"),
        pytest.param("{a=1}", {"a": 1}, id="equals-separator"),
        pytest.param("{a=>1}", {"a": 1}, id="arrow-separator"),
        pytest.param('{"a":1;"b":2}', {"a": 1, "b": 2}, id="semicolon-between-members"),
        pytest.param("[1;2]", [1, 2], id="semicolon-between-elements"),
        pytest.param('# hash\n{"a":1}', {"a": 1}, id="hash-comment"),
        pytest.param('{"a":1 // slashes\n}', {"a": 1}, id="slash-comment"),
        pytest.param('{/* block */"a":/* x */1}', {"a": 1}, id="block-comment"),
        pytest.param("{a: 'caf\\u00e9'}", {"a": "café"}, id="unicode-escape"),
        pytest.param("{a: [true, FALSE, null]}", {"a": [True, False, None]}, id="keywords"),
        pytest.param("{a: -1.5e2}", {"a": -150.0}, id="number-with-exponent"),
    ],
)
def test_lenient_json_accepts_what_gson_accepts(text, expected):
    # Given text Gson's lenient parser accepts
    # When it is loaded leniently
    value = loads_lenient(text)

    # Then it has the expected value
    assert value == expected


def test_lenient_unquoted_value_is_a_string():
    # Given an unquoted word as a value
    # When it is loaded leniently
    value = loads_lenient("{attribute1: value1}")

    # Then it is the string
    assert value == {"attribute1": "value1"}


def test_lenient_json_keeps_number_literals_when_asked():
    # Given a lenient body with a double and a long
    # When it is loaded keeping literals
    value = loads_lenient("{attribute3: 43.0, n: 7}", keep_number_literals=True)

    # Then the double is a literal with its text and the long an int
    assert value == {"attribute3": "43.0", "n": 7}
    assert isinstance(value["attribute3"], NumberLiteral)
    assert type(value["n"]) is int


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "# only a comment\n"])
def test_lenient_blank_input_is_null(text):
    # Given blank input
    # When it is loaded leniently
    value = loads_lenient(text)

    # Then it is JSON null
    assert value is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"a":1,}', id="trailing-comma-in-object"),
        pytest.param('{"a":1', id="unclosed-object"),
        pytest.param('{"a":1} x', id="trailing-text"),
        pytest.param("[1,]", id="trailing-comma-in-array"),
        pytest.param('{"a":"b', id="unterminated-string"),
        pytest.param('{"a":"\\q"}', id="bad-escape"),
        pytest.param('{"a":"\\u12"}', id="bad-unicode-escape"),
        pytest.param('{"a" 1}', id="missing-colon"),
        pytest.param('{"a":1 /* open', id="unterminated-comment"),
        pytest.param("[1 2]", id="missing-comma"),
    ],
)
def test_lenient_json_rejects_what_gson_rejects(text):
    # Given malformed text
    # When it is loaded leniently
    with pytest.raises(InvalidRequest) as caught:
        loads_lenient(text)

    # Then it is invalid JSON
    assert caught.value.message.startswith("Invalid JSON")


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("error", [Conflict("The resource was changed concurrently"), VersionConflict()])
def test_a_lost_write_is_a_409_with_its_reason_never_a_500(error: Conflict) -> None:
    answer = error_response(error)

    assert answer["statusCode"] == 409
    assert answer["body"] == error.message
    assert answer["headers"]["content-type"].startswith("text/plain")
