"""Evaluate CloudFormation intrinsic functions the way CloudFormation does at deploy time.

Supported: ``Ref`` (parameters, pseudo parameters, resources, ``AWS::NoValue``), ``Fn::GetAtt``,
``Fn::Sub`` (string and list forms, ``${!Literal}`` escapes), ``Fn::Join``, ``Fn::Select``,
``Fn::Split``, ``Fn::FindInMap``, ``Fn::If``, and the condition functions ``Fn::Equals``, ``Fn::Not``,
``Fn::And``, ``Fn::Or`` with ``{"Condition": name}`` operands. Anything else is a ``TemplateError``
naming the function, never a silent pass-through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class TemplateError(Exception):
    """The template uses something the local stack cannot evaluate, or is inconsistent."""


class _NoValue:
    """``Ref: AWS::NoValue``: the enclosing property or list item disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Scope:
    """What a template expression can see."""

    values: Mapping[str, Any]  # parameters and pseudo parameters, already typed
    mappings: Mapping[str, Any]
    condition: Callable[[str], bool]
    physical_ids: Mapping[str, str]
    attributes: Mapping[str, Mapping[str, str]]


def is_intrinsic(value: Any) -> bool:
    """Whether ``value`` is a single-key ``{"Ref": ...}`` / ``{"Fn::...": ...}`` mapping."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (key,) = value
    return key == "Ref" or key.startswith("Fn::")


def references(value: Any) -> set[str]:
    """Every name ``value`` refers to through Ref, GetAtt or Sub (parameters and resources alike)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        if is_intrinsic(value):
            (key, argument), *_ = value.items()
            if key == "Ref" and isinstance(argument, str):
                found.add(argument)
            elif key == "Fn::GetAtt" and isinstance(argument, list) and argument:
                found.add(str(argument[0]))
            elif key == "Fn::Sub":
                template = argument[0] if isinstance(argument, list) else argument
                local_names = set(argument[1]) if isinstance(argument, list) and len(argument) > 1 else set()
                for name in _SUB_VARIABLE.findall(str(template)):
                    if not name.startswith("!") and name.split(".")[0] not in local_names:
                        found.add(name.split(".")[0])
        for item in value.values():
            found |= references(item)
    return found


def as_text(value: Any) -> str:
    """A resolved scalar as CloudFormation renders it inside strings (``true``, ``90``...)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(f"expected a string, number or boolean, got {value!r}")


def resolve(value: Any, scope: Scope) -> Any:
    """Resolve every intrinsic function in ``value``; ``AWS::NoValue`` entries are dropped."""
    if isinstance(value, list):
        items = [resolve(item, scope) for item in value]
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if is_intrinsic(value):
        (name, argument), *_ = value.items()
        function = _FUNCTIONS.get(name)
        if function is None:
            raise TemplateError(f"{name} is not supported by the local stack")
        return function(argument, scope)
    resolved = {key: resolve(item, scope) for key, item in value.items()}
    return {key: item for key, item in resolved.items() if item is not NO_VALUE}


def _ref(name: Any, scope: Scope) -> Any:
    if name == "AWS::NoValue":
        return NO_VALUE
    if name in scope.values:
        return scope.values[name]
    if name in scope.physical_ids:
        return scope.physical_ids[name]
    raise TemplateError(f"Ref {name}: no parameter, pseudo parameter or provisioned resource has that name")


def _get_att(argument: Any, scope: Scope) -> str:
    resource, attribute = _arguments(argument, 2, "Fn::GetAtt")
    attribute = as_text(resolve(attribute, scope))
    try:
        return scope.attributes[resource][attribute]
    except KeyError:
        known = sorted(scope.attributes.get(resource, {}))
        raise TemplateError(f"Fn::GetAtt {resource}.{attribute}: not available (known: {known})") from None


def _sub(argument: Any, scope: Scope) -> str:
    if isinstance(argument, list):
        template, variables = _arguments(argument, 2, "Fn::Sub")
        local = {key: resolve(item, scope) for key, item in variables.items()}
    else:
        template, local = argument, {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in local:
            return as_text(local[name])
        if name in scope.values or "." not in name:
            return as_text(_ref(name, scope))
        resource, _, attribute = name.partition(".")
        return _get_att([resource, attribute], scope)

    return _SUB_VARIABLE.sub(substitute, as_text(template))


def _join(argument: Any, scope: Scope) -> str:
    delimiter, items = _arguments(argument, 2, "Fn::Join")
    return as_text(delimiter).join(as_text(item) for item in _resolved_list(items, scope, "Fn::Join"))


def _select(argument: Any, scope: Scope) -> Any:
    index, items = _arguments(argument, 2, "Fn::Select")
    values = _resolved_list(items, scope, "Fn::Select")
    position = int(as_text(resolve(index, scope)))
    if not 0 <= position < len(values):
        raise TemplateError(f"Fn::Select index {position} is outside a list of {len(values)}")
    return values[position]


def _split(argument: Any, scope: Scope) -> list[str]:
    delimiter, text = _arguments(argument, 2, "Fn::Split")
    return as_text(resolve(text, scope)).split(as_text(delimiter))


def _find_in_map(argument: Any, scope: Scope) -> Any:
    keys = [as_text(resolve(item, scope)) for item in _arguments(argument, 3, "Fn::FindInMap")]
    try:
        return scope.mappings[keys[0]][keys[1]][keys[2]]
    except KeyError:
        raise TemplateError(f"Fn::FindInMap {keys}: no such entry in Mappings") from None


def _if(argument: Any, scope: Scope) -> Any:
    condition, when_true, when_false = _arguments(argument, 3, "Fn::If")
    return resolve(when_true if scope.condition(condition) else when_false, scope)


def _equals(argument: Any, scope: Scope) -> bool:
    left, right = _arguments(argument, 2, "Fn::Equals")
    return as_text(resolve(left, scope)) == as_text(resolve(right, scope))


def _not(argument: Any, scope: Scope) -> bool:
    (operand,) = _arguments(argument, 1, "Fn::Not")
    return not condition_value(operand, scope)


def _and(argument: Any, scope: Scope) -> bool:
    return all(condition_value(operand, scope) for operand in _arguments(argument, None, "Fn::And"))


def _or(argument: Any, scope: Scope) -> bool:
    return any(condition_value(operand, scope) for operand in _arguments(argument, None, "Fn::Or"))


def condition_value(operand: Any, scope: Scope) -> bool:
    """A condition expression: a condition function or a ``{"Condition": name}`` reference."""
    if isinstance(operand, dict) and list(operand) == ["Condition"]:
        return scope.condition(operand["Condition"])
    result = resolve(operand, scope)
    if not isinstance(result, bool):
        raise TemplateError(f"condition operand {operand!r} is not a boolean")
    return result


def _arguments(argument: Any, count: int | None, function: str) -> list[Any]:
    if not isinstance(argument, list) or (count is not None and len(argument) != count):
        expected = "a list" if count is None else f"a list of {count}"
        raise TemplateError(f"{function} takes {expected}, got {argument!r}")
    return argument


def _resolved_list(items: Any, scope: Scope, function: str) -> list[Any]:
    values = resolve(items, scope)
    if not isinstance(values, list):
        raise TemplateError(f"{function} needs a list, got {values!r}")
    return values


_FUNCTIONS: dict[str, Callable[[Any, Scope], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::FindInMap": _find_in_map,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": _not,
    "Fn::And": _and,
    "Fn::Or": _or,
}
