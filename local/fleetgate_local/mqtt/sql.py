"""The subset of AWS IoT's rules SQL (version 2016-03-23) the local rule runner evaluates.

    SELECT [VALUE] <projection>, ... FROM '<topic filter>' [WHERE <condition>]

- Projections: ``*`` (the JSON payload's fields), ``<expression> AS <name>``, and a field path alone
  (named after its last field). Expressions: field paths (``a.b``, ``a[0]``), literals (``'text'``,
  numbers, ``true``, ``false``, ``null``), parentheses and the functions ``topic()``, ``topic(n)`` (1-based
  level), ``clientid()``, ``principal()``, ``timestamp()`` (epoch ms), ``encode(*, 'base64')``,
  ``newuuid()``, ``get_user_properties()`` (every pair as ``{"key", "value"}``), ``get_user_properties('k')``
  (the array of k's values), ``get_mqtt_property(name)`` for ``response_topic``, ``correlation_data``
  (base64), ``content_type``, ``format_indicator`` (``UTF8_DATA`` / ``UNSPECIFIED_BYTES``).
- WHERE: ``=``, ``<>``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``AND``, ``OR``, ``NOT``, parentheses.
- Undefined (a missing field, ``topic(9)`` of a shorter topic, a property the message lacks) is left out
  of the result, as AWS leaves it out; a comparison with it is undefined, and a WHERE that is not true
  drops the message. Comparing values of different types is undefined.

Anything else (arithmetic, CASE, other functions, an expression without a name) is a ``SqlError`` when
the statement is parsed, so a template using it fails at start, not at the first message.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["UNDEFINED", "MessageContext", "SqlError", "Statement", "parse", "topic_matches"]


class SqlError(ValueError):
    """A statement outside the supported subset, or one that does not parse."""


class _Undefined:
    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()


@dataclass(frozen=True)
class MessageContext:
    """One message as the rules engine sees it."""

    topic: str
    payload: bytes
    client_id: str = "n/a"  # AWS's value for a message that did not come over MQTT
    principal: str | None = None
    timestamp_ms: int = 0
    user_properties: tuple[tuple[str, str], ...] = ()
    response_topic: str | None = None
    correlation_data: bytes | None = None
    content_type: str | None = None
    payload_format: int | None = None  # MQTT 5 payload format indicator: 0 bytes, 1 UTF-8
    new_uuid: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))

    def json(self) -> Any:
        """The payload as JSON, or UNDEFINED when it is not JSON."""
        try:
            return json.loads(self.payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return UNDEFINED


# ---------------------------------------------------------------------------------------------- tokens
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<op><>|!=|<=|>=|=|<|>|\(|\)|,|\.|\*|\[|\])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<quoted>"[^"]*")
    )""",
    re.X,
)
_KEYWORDS = {"select", "value", "from", "where", "as", "and", "or", "not", "true", "false", "null"}


@dataclass(frozen=True)
class _Token:
    kind: str  # string, number, op, word, keyword, end
    text: str


def _tokens(sql: str) -> list[_Token]:
    tokens, at = [], 0
    while at < len(sql):
        if sql[at:].strip() == "":
            break
        match = _TOKEN.match(sql, at)
        if match is None:
            raise SqlError(f"cannot read the SQL at {sql[at : at + 20]!r}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "word" and text.lower() in _KEYWORDS:
            kind, text = "keyword", text.lower()
        elif kind == "quoted":
            kind, text = "word", text[1:-1]
        tokens.append(_Token(kind, text))
        at = match.end()
    tokens.append(_Token("end", ""))
    return tokens


# ---------------------------------------------------------------------------------------------- tree
Expression = Callable[[MessageContext, Any], Any]  # (message, payload JSON) -> value


@dataclass(frozen=True)
class _Projection:
    name: str | None  # None for ``*``
    value: Expression | None


@dataclass(frozen=True)
class Statement:
    """A parsed rule statement: ``matches`` a topic, ``evaluate`` a message."""

    topic_filter: str
    projections: tuple[_Projection, ...]
    select_value: bool
    where: Expression | None

    def matches(self, topic: str) -> bool:
        return topic_matches(self.topic_filter, topic)

    def evaluate(self, message: MessageContext) -> Any:
        """The SELECT result, or None when WHERE is not true. Raises ``SqlError`` when ``*`` is selected
        from a payload that is not a JSON object (no event a function could take)."""
        document = message.json()
        if self.where is not None and self.where(message, document) is not True:
            return None
        if self.select_value:
            value = self.projections[0].value
            assert value is not None
            result = value(message, document)
            return None if result is UNDEFINED else result
        out: dict[str, Any] = {}
        for projection in self.projections:
            if projection.value is None:
                if not isinstance(document, dict):
                    raise SqlError("SELECT * needs a JSON object payload (use encode(*, 'base64'))")
                out.update(document)
                continue
            value = projection.value(message, document)
            if value is not UNDEFINED:
                assert projection.name is not None
                out[projection.name] = value
        return out


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT's filter match: ``+`` one level, ``#`` (last) any number of levels, itself included."""
    levels, wanted = topic.split("/"), topic_filter.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return index == len(wanted) - 1
        if index >= len(levels) or (level != "+" and level != levels[index]):
            return False
    return len(levels) == len(wanted)


def parse(sql: str) -> Statement:
    """Parse one statement of the supported subset (``SqlError`` otherwise)."""
    return _Parser(_tokens(sql)).statement()


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.at = tokens, 0

    # --------------------------------------------------------------------------- helpers
    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> bool:
        token = self.peek()
        if token.kind == kind and (text is None or token.text == text):
            self.at += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None) -> _Token:
        token = self.take()
        if token.kind != kind or (text is not None and token.text != text):
            raise SqlError(f"expected {text or kind}, found {token.text or 'the end'!r}")
        return token

    # --------------------------------------------------------------------------- grammar
    def statement(self) -> Statement:
        self.expect("keyword", "select")
        select_value = self.accept("keyword", "value")
        projections = [self.projection()]
        while self.accept("op", ","):
            projections.append(self.projection())
        if select_value and (len(projections) != 1 or projections[0].value is None):
            raise SqlError("SELECT VALUE takes one expression")
        self.expect("keyword", "from")
        source = self.expect("string").text
        where = self.expression() if self.accept("keyword", "where") else None
        self.expect("end")
        return Statement(source[1:-1].replace("''", "'"), tuple(projections), select_value, where)

    def projection(self) -> _Projection:
        if self.accept("op", "*"):
            return _Projection(None, None)
        start = self.at
        value = self.expression()
        if self.accept("keyword", "as"):
            name = self.take()
            if name.kind not in ("word", "keyword"):
                raise SqlError(f"expected a name after AS, found {name.text!r}")
            return _Projection(name.text, value)
        consumed = self.tokens[start : self.at]
        if consumed[0].kind == "word" and all(
            t.kind in ("word", "number") or t.text in (".", "[", "]") for t in consumed
        ):
            return _Projection([t for t in consumed if t.kind == "word"][-1].text, value)  # a field path
        raise SqlError("an expression other than a field path needs a name (AS ...)")

    def expression(self) -> Expression:
        left = self.conjunction()
        while self.accept("keyword", "or"):
            left = _or(left, self.conjunction())
        return left

    def conjunction(self) -> Expression:
        left = self.negation()
        while self.accept("keyword", "and"):
            left = _and(left, self.negation())
        return left

    def negation(self) -> Expression:
        if self.accept("keyword", "not"):
            inner = self.negation()
            return lambda m, d: (
                UNDEFINED if (v := inner(m, d)) is UNDEFINED or not isinstance(v, bool) else not v
            )
        return self.comparison()

    def comparison(self) -> Expression:
        left = self.primary()
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARISONS:
            self.take()
            return _compare(token.text, left, self.primary())
        return left

    def primary(self) -> Expression:
        token = self.take()
        if token.kind == "op" and token.text == "(":
            inner = self.expression()
            self.expect("op", ")")
            return inner
        if token.kind == "string":
            text = token.text[1:-1].replace("''", "'")
            return lambda m, d: text
        if token.kind == "number":
            number = float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
            return lambda m, d: number
        if token.kind == "keyword" and token.text in ("true", "false", "null"):
            constant = {"true": True, "false": False, "null": None}[token.text]
            return lambda m, d: constant
        if token.kind == "word":
            if self.accept("op", "("):
                return self.function(token.text.lower())
            return self.path(token.text)
        raise SqlError(f"unsupported SQL at {token.text or 'the end'!r}")

    def path(self, first: str) -> Expression:
        steps: list[str | int] = [first]
        while True:
            if self.accept("op", "."):
                steps.append(self.expect("word").text)
            elif self.accept("op", "["):
                steps.append(int(self.expect("number").text))
                self.expect("op", "]")
            else:
                break
        return lambda m, d: _walk(d, steps)

    def function(self, name: str) -> Expression:
        arguments: list[Any] = []
        if not self.accept("op", ")"):
            while True:
                if self.accept("op", "*"):
                    arguments.append("*")
                else:
                    token = self.take()
                    if token.kind not in ("string", "number"):
                        raise SqlError(f"{name}() takes literal arguments here, found {token.text!r}")
                    arguments.append(token.text[1:-1] if token.kind == "string" else int(token.text))
                if self.accept("op", ")"):
                    break
                self.expect("op", ",")
        return _function(name, arguments)


_COMPARISONS = {"=", "<>", "!=", "<", "<=", ">", ">="}


def _walk(document: Any, steps: list[str | int]) -> Any:
    value = document
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return UNDEFINED
        elif not isinstance(value, dict) or step not in value:
            return UNDEFINED
        value = value[step]
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _compare(operator: str, left: Expression, right: Expression) -> Expression:
    def compare(m: MessageContext, d: Any) -> Any:
        a, b = left(m, d), right(m, d)
        if a is UNDEFINED or b is UNDEFINED or _kind(a) != _kind(b):
            return UNDEFINED
        if operator == "=":
            return a == b
        if operator in ("<>", "!="):
            return a != b
        if _kind(a) not in ("number", "str"):
            return UNDEFINED
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]

    return compare


def _and(left: Expression, right: Expression) -> Expression:
    def both(m: MessageContext, d: Any) -> Any:
        a, b = left(m, d), right(m, d)
        if a is False or b is False:
            return False
        return True if a is True and b is True else UNDEFINED

    return both


def _or(left: Expression, right: Expression) -> Expression:
    def either(m: MessageContext, d: Any) -> Any:
        a, b = left(m, d), right(m, d)
        if a is True or b is True:
            return True
        return False if a is False and b is False else UNDEFINED

    return either


def _function(name: str, arguments: list[Any]) -> Expression:  # noqa: PLR0911 - one case per function
    arity = len(arguments)
    if name == "topic" and arity == 0:
        return lambda m, d: m.topic
    if name == "topic" and arity == 1 and isinstance(arguments[0], int):
        index = arguments[0]
        return lambda m, d: _level(m.topic, index)
    if name in ("clientid", "principal", "timestamp", "newuuid") and arity == 0:
        return {
            "clientid": lambda m, d: m.client_id,
            "principal": lambda m, d: UNDEFINED if m.principal is None else m.principal,
            "timestamp": lambda m, d: m.timestamp_ms,
            "newuuid": lambda m, d: m.new_uuid(),
        }[name]
    if name == "encode" and arguments == ["*", "base64"]:
        return lambda m, d: base64.b64encode(m.payload).decode()
    if name == "get_user_properties" and arity == 0:
        return lambda m, d: [{"key": k, "value": v} for k, v in m.user_properties] or UNDEFINED
    if name == "get_user_properties" and arity == 1 and isinstance(arguments[0], str):
        key = arguments[0]
        return lambda m, d: [v for k, v in m.user_properties if k == key] or UNDEFINED
    if name == "get_mqtt_property" and arity == 1 and arguments[0] in _MQTT_PROPERTIES:
        return _MQTT_PROPERTIES[arguments[0]]
    raise SqlError(f"unsupported function {name}({', '.join(map(str, arguments))})")


def _level(topic: str, index: int) -> Any:
    levels = topic.split("/")
    return levels[index - 1] if 1 <= index <= len(levels) else UNDEFINED


def _or_undefined(value: Any) -> Any:
    return UNDEFINED if value is None else value


_MQTT_PROPERTIES: dict[str, Expression] = {
    "response_topic": lambda m, d: _or_undefined(m.response_topic),
    "correlation_data": lambda m, d: (
        UNDEFINED if m.correlation_data is None else base64.b64encode(m.correlation_data).decode()
    ),
    "content_type": lambda m, d: _or_undefined(m.content_type),
    "format_indicator": lambda m, d: (
        UNDEFINED if m.payload_format is None else ("UTF8_DATA" if m.payload_format else "UNSPECIFIED_BYTES")
    ),
}
