"""ThingsPro message formats: evaluated with libjq exactly as the jq CLI evaluates them, checked before
they are sent, bounded, and the default format's messages read back as samples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jq
import pytest

from fleetgate.domain import thingspro_messages as messages
from fleetgate.errors import InvalidRequest
from tools.thingspro_gateway import tags as gateway_tags

CORE = Path(__file__).resolve().parents[2] / "layers" / "core"
NOW = datetime(2026, 12, 1, 18, 0, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp()) * 1000

# ThingsPro's merge written in jq for the CLI: objects deeply, arrays appended, anything else replaced.
CLI_MERGE = (
    'def m($a; $b): if ($a|type) == "object" and ($b|type) == "object" then '
    "reduce ($b|keys_unsorted[]) as $k ($a; .[$k] = (if has($k) then m(.[$k]; $b[$k]) else $b[$k] end)) "
    'elif ($a|type) == "array" and ($b|type) == "array" then $a + $b else $b end;'
)


def cli(program: str, records: list[dict[str, Any]]) -> list[Any]:
    """The jq CLI's outputs of ``program`` over ``records``, in order."""
    stdin = "\n".join(json.dumps(record) for record in records)
    done = subprocess.run(["jq", "-c", program], input=stdin, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def cli_message(program: str, records: list[dict[str, Any]]) -> Any:
    """The jq CLI's own merge of each record's first output."""
    merged = f"{CLI_MERGE} reduce (.[] | [{program}\n] | select(length > 0) | .[0]) as $o ({{}}; m(.; $o))"
    stdin = json.dumps(records)
    done = subprocess.run(["jq", "-c", merged], input=stdin, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def record(
    src: str, tag: str, value: Any, ts_ms: int = NOW_MS, prvd: str = "modbus_tcp_master"
) -> dict[str, Any]:
    data_type = "float64" if isinstance(value, float) else "string" if isinstance(value, str) else "int32"
    return messages.tag_record(src, tag, value, ts_ms, prvd=prvd, data_type=data_type)


# --------------------------------------------------------------------------- the CLI as the oracle
def test_the_default_format_of_the_spec_record_is_what_the_cli_gives():
    # B.5's runtime record, with ts in milliseconds (what the default format's .ts/1000 assumes)
    spec = {
        "prvdName": "modbus_tcp_master",
        "srcName": "A1",
        "tagName": "status",
        "dataType": "int32",
        "dataValue": 11,
        "ts": 1581659603123,
    }
    (expected,) = cli(messages.DEFAULT_FORMAT, [spec])

    assert messages.apply_format("", [spec]) == expected
    assert messages.apply_format(messages.DEFAULT_FORMAT, [spec]) == expected
    assert expected["tags"]["modbus_tcp_master"]["A1"]["status"]["values"][0]["value"] == 11


def test_the_default_format_merges_several_tags_as_the_cli_merge_does():
    records = [
        record("A1", "status", 11),
        record("A1", "temp", 21.5, NOW_MS + 1500),
        record("B2", "status", 3, prvd="opcua"),
        record("A1", "status", 12, NOW_MS + 60_000),  # a second reading of A1/status: values append
    ]

    message = messages.apply_format("", records)

    assert message == cli_message(messages.DEFAULT_FORMAT, records)
    values = message["tags"]["modbus_tcp_master"]["A1"]["status"]["values"]
    assert [v["value"] for v in values] == [11, 12]
    assert set(message["tags"]) == {"modbus_tcp_master", "opcua"}


@pytest.mark.parametrize(
    "program",
    [
        "{ time : (.ts/1000|todateiso8601), (.srcName) : { (.tagName) : .dataValue}}",
        '{(.srcName + "." + .tagName): .dataValue, kind: .dataType}',
        "{readings: [{k: .tagName, v: .dataValue}]}",
        "{device: {(.srcName): {(.tagName): (.dataValue * 2)}}}",
        '{label: "\\(.prvdName)/\\(.srcName)/\\(.tagName)", n: ([..] | length)}',
        "if .dataValue > 10 then {high: [.tagName]} else {low: [.tagName]} end",
        'select(.srcName == "A1") | {a1: {(.tagName): .dataValue}}',
        "{a: (1, 2), b: .tagName}",  # several outputs: the first one counts
    ],
)
def test_custom_formats_give_what_the_cli_gives(program: str):
    records = [record("A1", "status", 11), record("A1", "temp", 9), record("B2", "level", 40)]

    assert messages.apply_format(program, records) == cli_message(program, records)


def test_a_single_record_gives_the_cli_s_first_output():
    program = "{a: (1, 2), b: .tagName}"
    rec = record("A1", "status", 1)
    assert messages.apply_format(program, [rec]) == cli(program, [rec])[0]


def test_merge_joins_objects_deeply_appends_arrays_and_lets_later_values_win():
    earlier = {"a": {"x": 1, "list": [1]}, "b": 1, "c": {"d": 1}}
    later = {"a": {"y": 2, "list": [2, 3]}, "b": {"now": "object"}, "c": 5}

    merged = messages.merge(earlier, later)

    assert merged == {"a": {"x": 1, "y": 2, "list": [1, 2, 3]}, "b": {"now": "object"}, "c": 5}
    assert earlier == {"a": {"x": 1, "list": [1]}, "b": 1, "c": {"d": 1}}  # inputs are not changed
    oracle = subprocess.run(
        ["jq", "-c", "-n", f"{CLI_MERGE} m({json.dumps(earlier)}; {json.dumps(later)})"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert merged == json.loads(oracle.stdout)


# --------------------------------------------------------------------------- check_format
@pytest.mark.parametrize("program", ["{", ".a |", "{a:}", "foo", '"unterminated', ".[", "{(.a): }"])
def test_check_format_refuses_what_jq_refuses_with_jq_s_message(program: str):
    with pytest.raises(InvalidRequest) as refused:
        messages.check_format(program)
    message = refused.value.message
    assert message.startswith("format: jq: error")
    assert "compile error" not in message  # jq's count line is dropped, its explanation kept
    with pytest.raises(ValueError, match="error"):
        jq.compile(program)  # jq itself refuses them


def test_check_format_accepts_the_default_format_the_empty_one_and_moxa_s_limit():
    messages.check_format("")
    messages.check_format(messages.DEFAULT_FORMAT)
    messages.check_format("." + " " * (messages.MAX_FORMAT - 1))
    with pytest.raises(InvalidRequest, match="at most 4096"):
        messages.check_format("." + " " * messages.MAX_FORMAT)


@pytest.mark.parametrize(
    ("program", "name"),
    [
        ("range(1e12)", "range"),
        ("[limit(3; repeat(1))]", "repeat"),
        ("def f: f; f", "def"),
        ("recurse(. + 1)", "recurse"),
        ("[1 | while(true; .)]", "while"),
        ("until(false; .)", "until"),
        ("[[.[]] | combinations]", "combinations"),
        ("$ENV.AWS_SECRET_ACCESS_KEY", "$ENV"),
        ("{k: env.AWS_SESSION_TOKEN}", "env"),
        ("input", "input"),
        ("[inputs]", "inputs"),
        ("debug", "debug"),
        ("stderr", "stderr"),
        ('halt_error("x")', "halt_error"),
        ("input_filename", "input_filename"),
        ("get_search_list", "get_search_list"),
        ('"\\(range(1e12))"', "range"),  # inside an interpolation
        ('"a\\("b\\(env)")"', "env"),  # inside a nested one
        ('@base64 "\\(.x | range(9))"', "range"),
        ("{range}", "range"),  # the shorthand of {range: .range}, refused with the name
        ("{a: 1, b: (1 | until(false; .))}", "until"),
    ],
)
def test_check_format_refuses_unbounded_and_outside_reaching_programs(program: str, name: str):
    with pytest.raises(InvalidRequest, match=f"not allowed here: {name.replace('$', '[$]')}"):
        messages.check_format(program)


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ('import "a" as a; .', "not allowed here: import"),
        ('include "a"; .', "not allowed here: include"),
        ("a::b", "modules are not allowed"),
        ("# a comment \\\nrange(1e12)", "comment may not contain a backslash"),  # libjq continues it
    ],
)
def test_check_format_refuses_modules_and_continued_comments(program: str, message: str):
    with pytest.raises(InvalidRequest, match=message):
        messages.check_format(program)


@pytest.mark.parametrize(
    "program",
    [
        "{range: .tagName, env: .srcName, input: .dataValue}",
        '{a: .range, b: ."env", c: .input}',
        '{s: "range(1e12) env $ENV"}',
        '{s: "# not a comment"} | {t: .s}',
        ". as $range | {r: $range.tagName}",
        "{n: ([..] | length)}",
        '{b: @base64 "\\(.tagName)"}',
        "{n: (.dataValue * 1e3)} # a comment about range and env",
        '{(.srcName): {"def": .dataValue}}',
    ],
)
def test_refused_names_as_fields_keys_strings_and_comments_are_data(program: str):
    messages.check_format(program)
    rec = record("A1", "status", 11)
    assert messages.apply_format(program, [rec]) == cli_message(program, [rec])


def test_without_the_check_the_prelude_still_disables_every_refused_builtin_at_every_arity():
    builtins = jq.compile("builtins").input_value(None).first()
    refused = sorted(
        (name, int(arity))
        for name, arity in (entry.split("/") for entry in builtins)
        if name in messages.REFUSED_NAMES and (name, arity) != ("recurse", "0")
    )
    assert len(refused) >= 20
    for name, arity in refused:
        call = name + ("(" + "; ".join(["empty"] * arity) + ")" if arity else "")
        program = jq.compile(messages.PRELUDE + f"[{call}]")
        with pytest.raises(ValueError, match=f"{name} is not allowed"):
            program.input_value({}).all()
    assert jq.compile(messages.PRELUDE + "$ENV").input_value(None).all() == [{}]


def test_the_prelude_keeps_dot_dot_and_jq_s_line_numbers():
    value = {"a": [1, {"b": 2}]}
    assert jq.compile(messages.PRELUDE + "[..]").input_value(value).all() == cli("[..]", [value])
    rec = record("A1", "status", 1)
    assert messages.apply_format("{line: $__loc__.line}", [rec]) == {"line": 1}
    assert messages.apply_format("\n\n{line: $__loc__.line}", [rec]) == {"line": 3}


def test_importing_the_module_does_not_load_libjq():
    probe = "import sys, fleetgate.domain.thingspro_messages; print('jq' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(CORE)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip() == "False"


# --------------------------------------------------------------------------- test_format
CPU = {"srcName": "system", "tagName": "cpuUsage", "dataType": "int32", "duration": 1000, "dataUnit": "%"}
SPEC_FORMAT = "{ time : (now|todateiso8601), (.srcName) : { (.tagName) : .dataValue}}"


def test_test_format_answers_the_spec_example_in_moxa_s_shape():
    before = datetime.now(UTC).replace(microsecond=0)
    answer = messages.test_format(
        SPEC_FORMAT, [{**CPU, "access": "ro"}], {("system", "cpuUsage"): 60}, NOW_MS
    )
    after = datetime.now(UTC)

    assert set(answer) == {"data", "error"}
    assert answer["error"] == ""
    data = answer["data"]
    assert {k: v for k, v in data.items() if k != "time"} == {"system": {"cpuUsage": 60}}
    stamp = datetime.strptime(data["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= after  # jq's now: the real clock


def test_test_format_builds_the_runtime_record_of_each_tag():
    answer = messages.test_format("{(.tagName): .}", [CPU], {("system", "cpuUsage"): 42}, NOW_MS)

    assert answer["data"]["cpuUsage"] == messages.tag_record(
        "system", "cpuUsage", 42, NOW_MS, prvd=messages.TEST_PROVIDER, data_type="int32", unit="%"
    )
    assert answer["data"]["cpuUsage"]["ts"] == NOW_MS
    named = messages.test_format("{p: .prvdName}", [{**CPU, "prvdName": "modbus"}], {}, NOW_MS)
    assert named["data"] == {"p": "modbus"}


def test_tags_without_a_known_value_get_their_type_s_sample():
    test_tags = [
        {"srcName": "d", "tagName": name, "dataType": data_type}
        for name, data_type in [
            ("i", "uint16"),
            ("f", "float32"),
            ("b", "boolean"),
            ("s", "string"),
            ("x", ""),
        ]
    ]
    answer = messages.test_format("{(.tagName): .dataValue}", test_tags, {("d", "s"): "known"}, NOW_MS)

    assert answer == {"data": {"i": 0, "f": 0, "b": False, "s": "known", "x": None}, "error": ""}


def test_the_default_format_in_a_test_matches_the_simulated_gateway_s():
    test_tags = [{"srcName": "d", "tagName": name, "dataType": "int32"} for name in ("a", "b")]
    values = {("d", "a"): 1, ("d", "b"): 2}

    answer = messages.test_format("", test_tags, values, NOW_MS)

    records = [
        messages.tag_record("d", n, v, NOW_MS, prvd="system", data_type="int32")
        for n, v in [("a", 1), ("b", 2)]
    ]
    assert answer == {"data": gateway_tags.default_format(records), "error": ""}


@pytest.mark.parametrize(
    ("program", "error"),
    [
        ('{a: error("boom")}', "boom"),
        ("{a: .dataValue.x}", "Cannot index number"),
        ("{a: (.tagName | tonumber)}", "cannot be parsed"),
        ("[.tagName]", "is an array, not an object"),
        (".dataValue", "is a number, not an object"),
    ],
)
def test_a_program_that_fails_on_a_tag_is_answered_with_its_error(program: str, error: str):
    answer = messages.test_format(program, [CPU], {}, NOW_MS)
    assert answer["data"] == {}
    assert error in answer["error"]


def test_records_without_output_or_with_null_contribute_nothing():
    two = [CPU, {**CPU, "tagName": "memUsage"}]
    assert messages.test_format('select(.tagName == "memUsage") | {m: 1}', two, {}, NOW_MS)["data"] == {
        "m": 1
    }
    assert messages.test_format(".nothing", two, {}, NOW_MS) == {"data": {}, "error": ""}


def test_test_format_refuses_bad_formats_and_tags():
    with pytest.raises(InvalidRequest, match="format: "):
        messages.test_format("{", [CPU], {}, NOW_MS)
    with pytest.raises(InvalidRequest, match="range"):
        messages.test_format("range(1e12)", [CPU], {}, NOW_MS)
    with pytest.raises(InvalidRequest, match=r"tags\[0\].srcName"):
        messages.test_format("", [{"srcName": 5}], {}, NOW_MS)
    with pytest.raises(InvalidRequest, match="at most 1000"):
        messages.test_format("", [CPU] * (messages.MAX_TEST_TAGS + 1), {}, NOW_MS)


def test_evaluation_is_bounded_by_the_input_and_output_caps():
    big = "x" * messages.MAX_RECORD_BYTES
    with pytest.raises(InvalidRequest, match="tag record is over"):
        messages.test_format("{a: 1}", [CPU], {("system", "cpuUsage"): big}, NOW_MS)
    with pytest.raises(InvalidRequest, match="over"):
        messages.test_format('{s: ("x" * 300000)}', [CPU], {}, NOW_MS)
    # many results under the per-result bound still hit the bound on them all together
    many = [{**CPU, "tagName": f"t{i}"} for i in range(40)]
    with pytest.raises(InvalidRequest, match="over"):
        messages.test_format('{(.tagName): ("x" * 40000)}', many, {}, NOW_MS)
    assert len(messages.test_format('{(.tagName): ("x" * 1000)}', many, {}, NOW_MS)["data"]) == 40


# --------------------------------------------------------------------------- ingestion
def gateway_state(groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {"mqtt": {"clients": [{"id": 1, "enable": True}], "messages": {"1": groups}}}


SELECTION = {"modbus": {"myDevice1": ["di0", "di1"]}, "system": {"status": ["cpuUsage"]}}


def test_series_reads_what_the_simulated_gateway_publishes():
    when = NOW + timedelta(milliseconds=1500)
    state = gateway_state([{"enable": True, "tags": SELECTION, "outputTopic": "t", "format": ""}])
    ((_, payload),) = gateway_tags.publications(state, when)

    samples = messages.series(payload)

    expected = [
        (f"{prvd}/{src}/{tag}", gateway_tags.simulated_value(prvd, src, tag, when))
        for prvd, sources in SELECTION.items()
        for src, names in sources.items()
        for tag in names
    ]
    assert [(s.key, s.value) for s in samples] == expected
    assert {s.ts_ms for s in samples} == {NOW_MS + 1000}  # todateiso8601 keeps whole seconds
    assert messages.default_format_series(payload) == samples


def test_a_custom_format_publication_is_a_json_record_not_a_series():
    group = {"enable": True, "tags": SELECTION, "outputTopic": "t", "format": "{(.tagName): .dataValue}"}
    ((_, payload),) = gateway_tags.publications(gateway_state([group]), NOW)

    assert messages.default_format_series(payload) is None
    with pytest.raises(InvalidRequest, match="not in ThingsPro's default format"):
        messages.series(payload)
    value = messages.json_record(payload)
    assert value == json.loads(payload)
    assert isinstance(value, dict) and set(value) == {"di0", "di1", "cpuUsage"}


def one(stamp: Any, value: Any = 1) -> bytes:
    body = {"values": [{"updateTimeStamp": stamp, "value": value}]}
    return json.dumps({"tags": {"p": {"s": {"t": body}}}}).encode()


BASE_MS = int(datetime(2026, 12, 1, 18, 0, 1, tzinfo=UTC).timestamp()) * 1000


@pytest.mark.parametrize(
    ("stamp", "ts_ms"),
    [
        ("2026-12-01T18:00:01Z", BASE_MS),
        ("2026-12-01T18:00:01.250Z", BASE_MS + 250),
        ("2026-12-01T18:00:01.1239Z", BASE_MS + 123),  # truncated to the millisecond
        ("2026-12-01T18:00:01.123456789Z", BASE_MS + 123),
        ("2026-12-01T20:00:01+02:00", BASE_MS),
        ("2026-12-01T13:30:01.5-04:30", BASE_MS + 500),
    ],
)
def test_update_timestamps_are_iso_8601_with_z_or_an_offset(stamp: str, ts_ms: int):
    assert messages.series(one(stamp, {"nested": [1]})) == [messages.Sample("p/s/t", ts_ms, {"nested": [1]})]


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"tags": {"p": {"s": {"t": {"values": [{"updateTimeStamp": "2026-12-01T18:00:01Z", '
        b'"value": NaN}]}}}}}',
        json.dumps({"tags": {}, "extra": 1}).encode(),
        json.dumps({"tags": []}).encode(),
        json.dumps({"tags": {"p": {"s": {"t": {"values": {}}}}}}).encode(),
        json.dumps({"tags": {"p": {"s": {"t": {"values": [], "more": 1}}}}}).encode(),
        json.dumps({"tags": {"p": {"s": {"t": {"values": [{"value": 1}]}}}}}).encode(),
        json.dumps({"tags": {"p": {"s": ["t"]}}}).encode(),
        one("2026-12-01T18:00:01"),  # no zone
        one("2026-12-01"),
        one("2026-12-01 18:00:01Z"),
        one("2026-13-01T18:00:01Z"),
        one(1764612001000),
        one("1969-12-31T23:59:59Z"),
    ],
)
def test_other_shapes_are_not_the_default_format(payload: bytes):
    assert messages.default_format_series(payload) is None
    with pytest.raises(InvalidRequest):
        messages.series(payload)


def test_an_empty_selection_has_no_samples():
    assert messages.series(b'{"tags": {}}') == []


def test_absurd_messages_are_refused():
    with pytest.raises(InvalidRequest, match="at most 131072 bytes"):
        messages.series(b" " * (messages.MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(InvalidRequest, match="at most 131072 bytes"):
        messages.json_record(b" " * (messages.MAX_PAYLOAD_BYTES + 1))

    def readings(count: int) -> bytes:
        values = [{"updateTimeStamp": "2026-12-01T18:00:01Z", "value": i} for i in range(count)]
        return json.dumps({"tags": {"p": {"s": {"t": {"values": values}}}}}).encode()

    assert len(messages.series(readings(messages.MAX_SAMPLES))) == messages.MAX_SAMPLES
    with pytest.raises(InvalidRequest, match="at most 1000 readings"):
        messages.series(readings(messages.MAX_SAMPLES + 1))
    with pytest.raises(InvalidRequest, match="without '/'"):
        messages.series(json.dumps({"tags": {"p": {"a/b": {"t": {"values": []}}}}}).encode())


def test_json_record_is_the_value_of_any_json_message():
    assert messages.json_record(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    assert messages.json_record(b"42") == 42
    assert messages.json_record(b"{") is None
    assert messages.json_record(b"\xff") is None
    assert messages.json_record(b"[Infinity]") is None
    assert messages.json_record(b"[1e400]") is None
    assert messages.json_record(b"[" * 300 + b"]" * 300) is None  # deeper than any store keeps


def test_a_value_that_is_not_json_is_refused():
    with pytest.raises(InvalidRequest, match="not JSON"):
        messages.test_format("{a: 1}", [CPU], {("system", "cpuUsage"): float("nan")}, NOW_MS)
    with pytest.raises(InvalidRequest, match="not JSON"):
        messages.test_format("{a: 1}", [CPU], {("system", "cpuUsage"): object()}, NOW_MS)
