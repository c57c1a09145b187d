"""The AWS IoT policy documents a custom authorizer returns, as the local MQTT front applies them:
checked directly (``Policy.allows``) and translated into Mosquitto dynamic-security ACLs (``acls``).

- ``allows`` is IAM's evaluation: an explicit Deny wins, else an Allow whose action and resource
  match (``*`` any characters, ``?`` one, as IAM globs), else no.
- ``acls``: ``iot:Publish`` becomes ``publishClientSend``, ``iot:Receive`` ``publishClientReceive``,
  ``iot:Subscribe`` ``subscribePattern`` (``subscribeLiteral`` for a resource without ``*``). A ``*`` that
  is a whole last topic level becomes ``#``, a whole inner level ``+``; a resource whose ``*`` or ``?``
  sits inside a level, or an action Mosquitto has no ACL for, has no translation: it is left out (so
  Mosquitto denies it, which is never wider than the policy). Deny statements become ACLs that deny,
  ranked above every allow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

_ACL_TYPES = {"iot:Publish": "publishClientSend", "iot:Receive": "publishClientReceive"}
_RESOURCE_KIND = {
    "iot:Connect": "client",
    "iot:Publish": "topic",
    "iot:Receive": "topic",
    "iot:Subscribe": "topicfilter",
}
DENY_PRIORITY, ALLOW_PRIORITY = 10, 1


class PolicyError(ValueError):
    """A policy document that is not an IAM policy."""


@dataclass(frozen=True)
class Statement:
    allow: bool
    actions: tuple[str, ...]
    resources: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, documents: Iterable[Any]) -> Policy:
        """The statements of every document (JSON text, as authorizers return them)."""
        statements = []
        for document in documents:
            try:
                parsed = json.loads(document) if isinstance(document, str) else None
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise PolicyError("a policy document must be JSON text of an object")
            items = parsed.get("Statement")
            for item in items if isinstance(items, list) else [items]:
                statements.append(_statement(item))
        return cls(tuple(statements))

    def allows(self, action: str, resource: str) -> bool:
        """IAM's answer for one action on one ARN."""
        matching = [s for s in self.statements if _any(s.actions, action) and _any(s.resources, resource)]
        return any(s.allow for s in matching) and not any(not s.allow for s in matching)

    def acls(self, arn_prefix: str) -> list[dict[str, Any]]:
        """Mosquitto dynamic-security ACLs for the resources under ``arn_prefix`` (``arn:aws:iot:r:a:``)."""
        acls: list[dict[str, Any]] = []
        for statement in self.statements:
            for action in ("iot:Publish", "iot:Receive", "iot:Subscribe"):
                if not _any(statement.actions, action):
                    continue
                kind = _RESOURCE_KIND[action]
                for resource in statement.resources:
                    acl = _acl(action, kind, resource, arn_prefix, statement.allow)
                    if acl is not None and acl not in acls:
                        acls.append(acl)
        return acls


def _statement(item: Any) -> Statement:
    if not isinstance(item, dict) or item.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError("a statement needs Effect Allow or Deny")
    actions, resources = item.get("Action"), item.get("Resource")
    actions = [actions] if isinstance(actions, str) else actions
    resources = [resources] if isinstance(resources, str) else resources
    for values in (actions, resources):
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise PolicyError("Action and Resource are strings or lists of strings")
    return Statement(item["Effect"] == "Allow", tuple(actions), tuple(resources))  # type: ignore[arg-type]


def _any(patterns: Iterable[str], value: str) -> bool:
    return any(_glob(pattern).fullmatch(value) for pattern in patterns)


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def _acl(action: str, kind: str, resource: str, arn_prefix: str, allow: bool) -> dict[str, Any] | None:
    topic: str | None
    if resource == "*":
        topic = "#"
    elif resource.startswith(f"{arn_prefix}{kind}/"):
        topic = _mqtt_filter(resource[len(arn_prefix) + len(kind) + 1 :])
    else:
        return None
    if topic is None:
        return None
    if action == "iot:Subscribe":
        acltype = "subscribePattern" if "+" in topic or "#" in topic else "subscribeLiteral"
    else:
        acltype = _ACL_TYPES[action]
    priority = ALLOW_PRIORITY if allow else DENY_PRIORITY
    return {"acltype": acltype, "topic": topic, "priority": priority, "allow": allow}


def _mqtt_filter(resource: str) -> str | None:
    """The MQTT filter of an IoT resource's topic part, or None where no filter says the same or less."""
    levels = resource.split("/")
    out = []
    for index, level in enumerate(levels):
        if level == "*":
            out.append("#" if index == len(levels) - 1 else "+")
        elif "*" in level or "?" in level or "+" in level or "#" in level:
            return None
        else:
            out.append(level)
    return "/".join(out)
