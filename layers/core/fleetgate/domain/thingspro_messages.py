"""ThingsPro message groups in the cloud: their jq ``format``, evaluated as a gateway evaluates it, and
what gateways publish with it, read back as telemetry. Pure: no I/O, no clock of its own (jq's ``now``
is the one clock a format can read). ``jq`` (libjq) is imported inside the functions that evaluate a
format, so importing this module costs nothing.

A message group applies its ``format`` (a jq filter, at most ``MAX_FORMAT`` characters; ``""`` means
``DEFAULT_FORMAT``) to one runtime record per tag reading, ``{prvdName, srcName, tagName, dataType,
dataValue, ts}`` (``tag_record``; ``ts`` in milliseconds, which is what the default format's
``.ts/1000|todateiso8601`` assumes), and merges the results into one message (``merge``):

- objects merge key by key, deeply (ThingsPro's "object override": a later scalar replaces an earlier
  one under the same key);
- arrays under the same key are concatenated ("array append": two readings of one tag under the
  default format keep both ``values``);
- the first value a record's program outputs is its result (a filter may output several; the rest are
  never computed); no output, or ``null``, contributes nothing; any other non-object is an error.

Evaluation is in process, bounded by rules rather than by a clock, because neither clock is safe in a
Lambda: no subprocess (no jq binary, no reliable fork), and a thread that overruns its budget cannot be
stopped, keeps the CPU, and is frozen and thawed with the execution environment into the next
invocation. The rules:

- ``check_format`` refuses what can loop without end or reach outside the record: ``def`` (recursion),
  ``range``, ``repeat``, ``recurse`` (``..`` stays: it walks the finite record), ``while``, ``until``,
  ``combinations``, modules (``import``, ``include``, ``::``), reading input, environment, files or the
  program's origin (``input``, ``inputs``, ``env``, ``$ENV`` (the Lambda's environment holds its AWS
  credentials), ``input_filename``, ``get_*``…), writing to stderr (``debug``, ``stderr``) and
  ``halt``. The names are found by a scan of jq's tokens (strings and their ``\\(…)`` interpolations
  included); a comment may not hold a backslash, since libjq continues a comment over a line that ends
  with one. A name refused as a call is refused as an object key shorthand too (``{range}``; write
  ``{range: .range}``).
- Evaluation runs inside a prelude that redefines each of those builtins as an error and binds
  ``$ENV`` to ``{}``, so a program the scan misread still cannot reach them.
- A record is at most ``MAX_RECORD_BYTES`` of JSON, a test at most ``MAX_TEST_TAGS`` tags, all results
  of one message together at most ``RESULTS_BUDGET`` bytes and the merged message at most
  ``MAX_MESSAGE_BYTES`` (Moxa's largest ``sendOutThreshold.size``).

Residual risk, accepted and documented: without loops a 4096-character program can still do
exponential work (nested generators such as ``(1,2) as $a | (1,2) as $b | …`` inside ``[…]``, or
``[.,.] | [.,.] | …`` then ``tojson``) or allocate a huge string (``"x" * 1e9``); the output cap is
checked only once libjq has produced a result. Such a request runs until the Lambda's own timeout or
memory limit ends the invocation, after which Lambda replaces the execution environment: one failed
request by an authenticated operator, nothing that outlives it. Regular expressions (``test``,
``match``, ``sub``…) are left to Oniguruma's own backtracking limits.

Ingestion (``series``): Moxa's default format publishes ``{"tags": {prvd: {src: {tag: {"values":
[{"updateTimeStamp", "value"}]}}}}}``; each reading is a ``Sample`` keyed ``"<prvd>/<src>/<tag>"`` (so a
name may not be empty or contain ``/``), timed by its ISO 8601 ``updateTimeStamp`` (``Z`` or an offset,
fractions optional). ``default_format_series`` answers ``None`` for anything else, ``json_record`` gives
the JSON value of a custom format's message (strict JSON, ``fleetgate.jsonutil.loads``). A payload over
``MAX_PAYLOAD_BYTES`` or with more than ``MAX_SAMPLES`` readings is refused.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fleetgate import jsonutil
from fleetgate.domain.telemetry import MAX_TS
from fleetgate.errors import InvalidRequest

DEFAULT_FORMAT = (
    "{tags:{(.prvdName):{(.srcName):{(.tagName):{values:[{updateTimeStamp:(.ts/1000|todateiso8601),"
    "value:.dataValue}]}}}}}"
)
MAX_FORMAT = 4096  # Moxa's MessagePolicy.format maxLength
MAX_RECORD_BYTES = 64 * 1024
MAX_MESSAGE_BYTES = 262_144  # Moxa's largest sendOutThreshold.size
RESULTS_BUDGET = 4 * MAX_MESSAGE_BYTES  # all results of one message together, before the merge
MAX_TEST_TAGS = 1000
MAX_PAYLOAD_BYTES = 128 * 1024
MAX_SAMPLES = 1000
TEST_PROVIDER = "system"  # a test tag (Moxa's Tag) names no provider

# Moxa's Tag.dataType and taghub's spellings -> the value a test tag without a known value gets.
SAMPLE_VALUES: Mapping[str, object] = {
    **dict.fromkeys(("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"), 0),
    **dict.fromkeys(("float32", "float64", "float", "double"), 0.0),
    "boolean": False,
    "string": "",
    "bytearray": "",
    "raw": "",
}

REFUSED_NAMES = frozenset(
    {
        # unbounded: recursion, loops and generators without end, exponential fan-out
        "def",
        "range",
        "repeat",
        "recurse",
        "recurse_down",
        "while",
        "until",
        "combinations",
        # modules
        "import",
        "include",
        "modulemeta",
        # outside the record: input, environment, files, the program's origin
        "input",
        "inputs",
        "input_filename",
        "input_line_number",
        "env",
        "get_search_list",
        "get_prog_origin",
        "get_jq_origin",
        # side effects
        "debug",
        "stderr",
        "halt",
        "halt_error",
    }
)
REFUSED_VARIABLES = frozenset({"ENV"})

# Each refused builtin, at every arity libjq defines it, redefined for evaluation; ``recurse/0`` (which
# ``..`` calls) keeps its meaning, bounded by the record it walks.
_ARITIES = {
    "range": (1, 2, 3),
    "repeat": (1,),
    "recurse": (1, 2),
    "recurse_down": (0,),
    "while": (2,),
    "until": (2,),
    "combinations": (0, 1),
    "modulemeta": (0,),
    "input": (0,),
    "inputs": (0,),
    "input_filename": (0,),
    "input_line_number": (0,),
    "env": (0,),
    "get_search_list": (0,),
    "get_prog_origin": (0,),
    "get_jq_origin": (0,),
    "debug": (0, 1),
    "stderr": (0,),
    "halt": (0,),
    "halt_error": (0, 1),
}


def _prelude() -> str:
    parts = ["def recurse: def r: ., (.[]? | r); r;"]
    for name, arities in _ARITIES.items():
        for arity in arities:
            params = "(" + "; ".join(f"f{i}" for i in range(arity)) + ")" if arity else ""  # never run
            parts.append(f'def {name}{params}: error("{name} is not allowed");')
    return " ".join(parts) + " {} as $ENV | "


PRELUDE = _prelude()  # one line: jq's line numbers ($__loc__) stay the program's own

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_KEY_COLON = re.compile(r"[ \t\r\n]*:(?!:)")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    key: str  # "<prvd>/<src>/<tag>"
    ts_ms: int
    value: object


class _Scan:
    """jq's tokens, as far as refusing names needs them: identifiers called or bound, ``$`` variables,
    and the code inside string interpolations; fields (``.name``), formats (``@name``), object keys
    (``name:``), numbers, strings and comments are skipped."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.names: list[str] = []
        self.variables: list[str] = []
        self.modules = False
        self.comment_backslash = False

    def run(self) -> _Scan:
        self._code(0, interpolation=False)
        return self

    def _code(self, i: int, *, interpolation: bool) -> int:
        text, depth = self.text, 0
        while i < len(text):
            char = text[i]
            if char == "(":
                depth, i = depth + 1, i + 1
            elif char == ")":
                if interpolation and depth == 0:
                    return i + 1
                depth, i = depth - 1, i + 1
            else:
                i = self._token(i)
        return i

    def _token(self, i: int) -> int:
        """Scan the token at ``i`` (anything but a parenthesis); the index after it."""
        text, char = self.text, self.text[i]
        if char == "#":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            self.comment_backslash |= "\\" in text[i:end]
            return end
        if char == '"':
            return self._string(i + 1)
        if char == "." and text.startswith("..", i):
            return i + 2
        if char in ".$@" and _IDENT.match(text, i + 1):
            end = self._skip_ident(i + 1)
            if char == "$":
                self.variables.append(text[i + 1 : end])
            return end
        if (number := _NUMBER.match(text, i)) is not None:
            return number.end()
        ident = _IDENT.match(text, i)
        if ident is not None and not _KEY_COLON.match(text, ident.end()):
            self.names.append(ident.group())
        return i + 1 if ident is None else ident.end()

    def _skip_ident(self, i: int) -> int:
        ident = _IDENT.match(self.text, i)
        assert ident is not None
        self.modules |= "::" in ident.group()
        return ident.end()

    def _string(self, i: int) -> int:
        text = self.text
        while i < len(text):
            char = text[i]
            if char == '"':
                return i + 1
            if char == "\\" and text.startswith("\\(", i):
                i = self._code(i + 2, interpolation=True)
            elif char == "\\":
                i += 2
            else:
                i += 1
        return i


def check_format(text: str) -> None:
    """Refuse a ``format`` libjq does not compile, one over ``MAX_FORMAT`` characters, and one that uses
    what the cloud does not evaluate (the module's rules). ``""`` is Moxa's default and is accepted."""
    if not isinstance(text, str):
        raise InvalidRequest("format: must be a string")
    if len(text) > MAX_FORMAT:
        raise InvalidRequest(f"format: at most {MAX_FORMAT} characters, got {len(text)}")
    if not text:
        return
    scan = _Scan(text).run()
    if scan.comment_backslash:
        raise InvalidRequest("format: a comment may not contain a backslash")
    if scan.modules or any("::" in name for name in scan.names):
        raise InvalidRequest("format: modules are not allowed")
    refused = sorted({name for name in scan.names if name in REFUSED_NAMES})
    refused += sorted({f"${name}" for name in scan.variables if name in REFUSED_VARIABLES})
    if refused:
        raise InvalidRequest(f"format: not allowed here: {', '.join(refused)}")
    _compile(text)


@functools.lru_cache(maxsize=64)
def _compile(text: str) -> Any:
    """The program that evaluates ``text``: compiled alone first, so jq's message (line and column)
    is about the operator's text, then inside ``PRELUDE``."""
    import jq  # noqa: PLC0415 - libjq only where a format is compiled

    try:
        jq.compile(text)
        return jq.compile(PRELUDE + text + "\n")
    except ValueError as error:
        raise InvalidRequest(f"format: {_compile_message(error)}") from error


def _compile_message(error: ValueError) -> str:
    lines = [
        line for line in str(error).strip().splitlines() if not re.fullmatch(r"jq: \d+ compile errors?", line)
    ]
    return "\n".join(lines).strip() or "jq refused the program"


def tag_record(
    src: str,
    tag: str,
    value: object,
    ts_ms: int,
    *,
    prvd: str,
    data_type: str,
    unit: str | None = None,
) -> dict[str, object]:
    """The runtime record ThingsPro applies a format to (``dataUnit`` only when there is a unit)."""
    record: dict[str, object] = {
        "prvdName": prvd,
        "srcName": src,
        "tagName": tag,
        "dataType": data_type,
        "dataValue": value,
        "ts": ts_ms,
    }
    if unit is not None:
        record["dataUnit"] = unit
    return record


class FormatFailure(Exception):
    """The program failed on a record (jq's runtime error, or a result the merge cannot use)."""


def apply_format(format_text: str, records: Sequence[Mapping[str, object]]) -> dict[str, Any]:
    """``format_text`` (``""``: ``DEFAULT_FORMAT``) applied to each record, the results merged in order.
    Raises ``InvalidRequest`` for a format ``check_format`` refuses or an oversized record or message,
    ``FormatFailure`` when the program fails on a record."""
    text = format_text or DEFAULT_FORMAT
    check_format(text)
    program = _compile(text)
    message: dict[str, Any] = {}
    produced = 0  # bytes of all results: a bound on the merged message, without encoding it each time
    for record in records:
        try:
            encoded = jsonutil.dumps(record)
        except (TypeError, ValueError) as error:
            raise InvalidRequest(f"the record of {_name(record)} is not JSON: {error}") from error
        if len(encoded.encode()) > MAX_RECORD_BYTES:
            raise InvalidRequest(f"a tag record is over {MAX_RECORD_BYTES} bytes")
        try:
            results: Iterator[object] = iter(program.input_text(encoded))
            result = next(results, None)
        except ValueError as error:
            raise FormatFailure(str(error) or "jq error") from error
        if result is None:
            continue
        if not isinstance(result, dict):
            raise FormatFailure(f"the result for {_name(record)} is {_jq_type(result)}, not an object")
        produced += _size(result)
        if produced > RESULTS_BUDGET:
            raise InvalidRequest(f"the results are over {RESULTS_BUDGET} bytes")
        message = merge(message, result)
    if _size(message) > MAX_MESSAGE_BYTES:
        raise InvalidRequest(f"the message is over {MAX_MESSAGE_BYTES} bytes")
    return message


def test_format(
    format_text: str,
    tags: list[dict[str, Any]],
    values: Mapping[tuple[str, str], object],
    now_ms: int,
) -> dict[str, Any]:
    """Moxa's ``…/messages/test`` answer: ``{"data": <merged message>, "error": ""}``, or ``{"data": {},
    "error": <jq's message>}`` when the program fails on a tag. A tag's value is its latest known one
    (``values[(srcName, tagName)]``), else the sample of its type (``SAMPLE_VALUES``: 0, 0.0, false, ""
    for bytearray, ``null`` for an unknown or missing type); its provider is its ``prvdName`` when it
    has one, else ``TEST_PROVIDER``; every record is timed ``now_ms``. A format libjq refuses, and tags
    that are not Moxa's Tag objects, raise ``InvalidRequest``."""
    if len(tags) > MAX_TEST_TAGS:
        raise InvalidRequest(f"tags: at most {MAX_TEST_TAGS}, got {len(tags)}")
    records = [_test_record(index, tag, values, now_ms) for index, tag in enumerate(tags)]
    try:
        return {"data": apply_format(format_text, records), "error": ""}
    except FormatFailure as failure:
        return {"data": {}, "error": str(failure)}


test_format.__test__ = False  # type: ignore[attr-defined]  # pytest: a function, not a test


def _test_record(
    index: int, tag: object, values: Mapping[tuple[str, str], object], now_ms: int
) -> dict[str, object]:
    if not isinstance(tag, dict):
        raise InvalidRequest(f"tags[{index}]: must be an object")
    fields = {name: tag.get(name, "") for name in ("srcName", "tagName", "dataType", "prvdName")}
    for name, field in fields.items():
        if not isinstance(field, str):
            raise InvalidRequest(f"tags[{index}].{name}: must be a string")
    unit = tag.get("dataUnit")
    if unit is not None and not isinstance(unit, str):
        raise InvalidRequest(f"tags[{index}].dataUnit: must be a string")
    src, name, data_type = str(fields["srcName"]), str(fields["tagName"]), str(fields["dataType"])
    value = values[(src, name)] if (src, name) in values else SAMPLE_VALUES.get(data_type)
    return tag_record(
        src,
        name,
        value,
        now_ms,
        prvd=str(fields["prvdName"]) or TEST_PROVIDER,
        data_type=data_type,
        unit=unit,
    )


def merge(earlier: Any, later: Any) -> Any:
    """ThingsPro's merge of two results: objects deeply, arrays appended, anything else: ``later``."""
    if isinstance(earlier, dict) and isinstance(later, dict):
        merged = dict(earlier)
        for key, value in later.items():
            merged[key] = merge(merged[key], value) if key in merged else value
        return merged
    if isinstance(earlier, list) and isinstance(later, list):
        return earlier + later
    return later


def _size(value: object) -> int:
    return len(jsonutil.dumps(value).encode())


def _name(record: Mapping[str, object]) -> str:
    return f"{record.get('srcName')}/{record.get('tagName')}"


def _jq_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "null"


# --------------------------------------------------------------------------- ingestion
def _load(payload: bytes) -> tuple[bool, object]:
    """``(True, value)`` for a JSON payload, ``(False, None)`` otherwise; oversized ones are refused."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidRequest(f"a message is at most {MAX_PAYLOAD_BYTES} bytes, got {len(payload)}")
    try:
        return True, jsonutil.loads(payload)
    except InvalidRequest:  # not JSON, or JSON no store could hold (NaN, 1e400, deep nesting)
        return False, None


def json_record(payload: bytes) -> object | None:
    """The JSON value of a message in any format; ``None`` when it is not JSON (or is JSON ``null``)."""
    return _load(payload)[1]


def default_format_series(payload: bytes) -> list[Sample] | None:
    """The readings of a message in Moxa's default format, in message order; ``None`` when the message
    has any other shape. Refuses names that cannot make a key and more than ``MAX_SAMPLES`` readings."""
    ok, message = _load(payload)
    if not ok or not isinstance(message, dict) or set(message) != {"tags"}:
        return None
    providers = message["tags"]
    if not isinstance(providers, dict):
        return None
    samples: list[Sample] = []
    for prvd, sources in providers.items():
        if not isinstance(sources, dict):
            return None
        for src, tags in sources.items():
            if not isinstance(tags, dict):
                return None
            for tag, body in tags.items():
                readings = _readings(body)
                if readings is None:
                    return None
                key = _key(prvd, src, tag)
                for ts_ms, value in readings:
                    if len(samples) == MAX_SAMPLES:
                        raise InvalidRequest(f"a message holds at most {MAX_SAMPLES} readings")
                    samples.append(Sample(key, ts_ms, value))
    return samples


def series(payload: bytes) -> list[Sample]:
    """``default_format_series``, refusing a message in any other shape."""
    samples = default_format_series(payload)
    if samples is None:
        raise InvalidRequest("the message is not in ThingsPro's default format")
    return samples


def _readings(body: object) -> list[tuple[int, object]] | None:
    if not isinstance(body, dict) or set(body) != {"values"} or not isinstance(body["values"], list):
        return None
    readings: list[tuple[int, object]] = []
    for item in body["values"]:
        if not isinstance(item, dict) or set(item) != {"updateTimeStamp", "value"}:
            return None
        ts_ms = _timestamp_ms(item["updateTimeStamp"])
        if ts_ms is None:
            return None
        readings.append((ts_ms, item["value"]))
    return readings


def _timestamp_ms(stamp: object) -> int | None:
    """Epoch milliseconds of an ISO 8601 date-time with ``Z`` or an offset (fractions truncated)."""
    if not isinstance(stamp, str) or not _TIMESTAMP.match(stamp):
        return None
    digits = re.sub(r"\.(\d{1,6})\d*", r".\1", stamp)  # datetime keeps microseconds
    try:
        moment = datetime.fromisoformat(digits)
    except ValueError:
        return None
    ts_ms = (moment - _EPOCH) // timedelta(milliseconds=1)
    return ts_ms if 0 <= ts_ms < MAX_TS else None


def _key(prvd: str, src: str, tag: str) -> str:
    for name in (prvd, src, tag):
        if not name or "/" in name:
            raise InvalidRequest(f"a provider, source or tag name must be non-empty, without '/': {name!r}")
    return f"{prvd}/{src}/{tag}"
