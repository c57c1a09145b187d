"""JSON in and out.

``loads`` is strict JSON (no NaN or Infinity). Both parsers refuse, as ``InvalidRequest``, what no store
or answer could hold: numbers beyond float range (``1e400``), strings with a lone surrogate
(``"\\ud800"``, which is not Unicode text) and nesting deeper than ``MAX_DEPTH``. ``loads_lenient`` also
accepts what Gson's lenient
parser accepts, because ThingsBoard parses device bodies that way and its own documentation's curl
lines depend on it: ``--data "{"temperature":42}"`` reaches the server as ``{temperature:42}``.

Numbers written with a fraction or an exponent can be kept as ``NumberLiteral`` (the text as written),
so a dialect can type them the way its platform does (ThingsBoard tells ``42.0`` from ``42``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fleetgate.errors import InvalidRequest


class NumberLiteral(str):
    """A JSON number with a fraction or an exponent, exactly as written."""

    __slots__ = ()


MAX_DEPTH = 256
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"the number {text} is out of range")
    return value


def _parse(text: str | bytes, keep_number_literals: bool) -> Any:
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=NumberLiteral if keep_number_literals else _finite,
        )
    except RecursionError as exc:
        raise InvalidRequest(f"Invalid JSON: nesting deeper than {MAX_DEPTH} levels") from exc


def loads(text: str | bytes, *, keep_number_literals: bool = False) -> Any:
    """Strict JSON. Raises ``InvalidRequest`` with the parser's message."""
    try:
        return checked(_parse(text, keep_number_literals))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"Invalid JSON: {exc}") from exc


def loads_lenient(text: str, *, keep_number_literals: bool = False) -> Any:
    """Strict JSON first (fast path), then Gson-style lenient JSON."""
    try:
        value = _parse(text, keep_number_literals)
    except ValueError:
        value = _LenientParser(text, keep_number_literals).parse()
    return checked(value)


def checked(value: Any) -> Any:
    """``value`` if every string and key is Unicode text and it nests at most ``MAX_DEPTH`` levels;
    ``InvalidRequest`` otherwise. Iterative, so no input can exhaust the stack."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise InvalidRequest("Invalid JSON: a string holds a lone surrogate (not Unicode text)")
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise InvalidRequest(f"Invalid JSON: nesting deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
                pending.extend((child, depth + 1) for child in item.values())
            else:
                pending.extend((child, depth + 1) for child in item)
    return value


def integer(value: Any) -> int | None:
    """``value`` as an integer when JSON calls it one: an int (not a bool), or a number written with a
    zero fraction (``3.0``, which JSON and JSON Schema treat as the integer 3); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def dumps(value: Any) -> str:
    """Compact JSON, as stored and as sent."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def plain(value: Any) -> Any:
    """``value`` with every ``NumberLiteral`` turned into a float."""
    if isinstance(value, NumberLiteral):
        return float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?\Z")
_LITERAL_END = frozenset("/\\;#={}[]:, \t\f\r\n")
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_KEYWORDS = {"true": True, "false": False, "null": None}


class _LenientParser:
    """Gson's lenient grammar: unquoted names and string values, single quotes, ``=``/``=>`` after
    names, ``;`` between values, ``//``, ``/* */`` and ``#`` comments. Trailing commas and trailing
    text are still errors, as in Gson."""

    def __init__(self, text: str, keep_number_literals: bool) -> None:
        self.text = text
        self.pos = 0
        self.keep = keep_number_literals

    def parse(self) -> Any:
        self._skip()
        if self.pos == len(self.text):
            return None  # Gson: blank input is JSON null
        value = self._value(0)
        self._skip()
        if self.pos != len(self.text):
            self._fail("unexpected trailing characters")
        return value

    def _fail(self, why: str) -> None:
        raise InvalidRequest(f"Invalid JSON: {why} at character {self.pos}")

    def _skip(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c in " \t\r\n\f":
                self.pos += 1
            elif c == "#" or text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    self._fail("unterminated comment")
                self.pos = end + 2
            else:
                return

    def _value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            self._fail("nesting too deep")
        self._skip()
        if self.pos >= len(self.text):
            self._fail("unexpected end of input")
        c = self.text[self.pos]
        if c == "{":
            return self._object(depth + 1)
        if c == "[":
            return self._array(depth + 1)
        if c in "\"'":
            return self._string(c)
        return self._literal()

    def _object(self, depth: int) -> dict[str, Any]:
        self.pos += 1
        result: dict[str, Any] = {}
        self._skip()
        if self._peek() == "}":
            self.pos += 1
            return result
        while True:
            self._skip()
            c = self._peek()
            if c in ('"', "'"):
                name = self._string(c)
            elif c in ("}", ",", ";", ""):
                self._fail("expected a name")
            else:
                name = self._raw_literal()
            self._skip()
            sep = self._peek()
            if sep == ":":
                self.pos += 1
            elif sep == "=":
                self.pos += 2 if self.text.startswith("=>", self.pos) else 1
            else:
                self._fail("expected ':' after a name")
            result[name] = self._value(depth)
            self._skip()
            c = self._peek()
            if c in (",", ";"):
                self.pos += 1
                continue
            if c == "}":
                self.pos += 1
                return result
            self._fail("expected ',' or '}'")

    def _array(self, depth: int) -> list[Any]:
        self.pos += 1
        result: list[Any] = []
        self._skip()
        if self._peek() == "]":
            self.pos += 1
            return result
        while True:
            self._skip()
            if self._peek() in (",", ";", "]"):
                self._fail("expected a value")
            result.append(self._value(depth))
            self._skip()
            c = self._peek()
            if c in (",", ";"):
                self.pos += 1
                continue
            if c == "]":
                self.pos += 1
                return result
            self._fail("expected ',' or ']'")

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _string(self, quote: str) -> str:
        text, n = self.text, len(self.text)
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= n:
                self._fail("unterminated string")
            c = text[self.pos]
            if c == quote:
                self.pos += 1
                return "".join(out)
            if c == "\\":
                self.pos += 1
                esc = text[self.pos] if self.pos < n else ""
                if esc == "u":
                    digits = text[self.pos + 1 : self.pos + 5]
                    if len(digits) != 4 or not all(d in "0123456789abcdefABCDEF" for d in digits):
                        self._fail("bad unicode escape")
                    out.append(chr(int(digits, 16)))
                    self.pos += 5
                    continue
                if esc not in _ESCAPES:
                    self._fail("bad escape")
                out.append(_ESCAPES[esc])
                self.pos += 1
                continue
            out.append(c)
            self.pos += 1

    def _raw_literal(self) -> str:
        start = self.pos
        text, n = self.text, len(self.text)
        while self.pos < n and text[self.pos] not in _LITERAL_END:
            self.pos += 1
        if self.pos == start:
            self._fail("unexpected character")
        return text[start : self.pos]

    def _literal(self) -> Any:
        raw = self._raw_literal()
        lowered = raw.lower()
        if lowered in _KEYWORDS:
            return _KEYWORDS[lowered]
        if _NUMBER.match(raw):
            if "." in raw or "e" in lowered:
                return NumberLiteral(raw) if self.keep else float(raw)
            return int(raw)
        return raw
