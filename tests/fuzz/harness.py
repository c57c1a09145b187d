"""Run schemathesis's engine over one dialect's operations and tally what came back.

The engine runs its examples, coverage and fuzzing phases (positive and negative cases) with every
check it has, except ``unsupported_method``: it wants 405 for a method a route does not declare, while
API Gateway's HTTP API (and the local stack, which behaves as it does) answers 404 ``Not Found``.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

# A route whose success depends on a device answering answers as ThingsBoard does when none does:
# the operator's two-way RPC with no reply is 504 with a Location to read it later (documented).
DOWNSTREAM_TIMEOUTS = {("POST", "/manage/v1/devices/{id}/rpc", 504)}


@dataclass
class Tally:
    requests: int = 0
    by_status: collections.Counter[int] = field(default_factory=collections.Counter)
    by_operation: collections.Counter[str] = field(default_factory=collections.Counter)
    server_errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "operations": len(self.by_operation),
            "by_status": dict(sorted(self.by_status.items())),
            "5xx": sum(n for status, n in self.by_status.items() if status >= 500),
            "failures": len(self.failures),
        }


def run(document: dict[str, Any], config: dict[str, Any], tag: str) -> Tally:
    """Every operation tagged ``tag``, fuzzed with ``config`` (a ``schemathesis.toml`` as a dict)."""
    return run_document(only(document, tag), config)


def run_document(document: dict[str, Any], config: dict[str, Any]) -> Tally:
    """Every operation of ``document``, fuzzed with ``config``."""
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_dict(config))
    tally = Tally()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _record(tally, event)
        elif isinstance(event, events.NonFatalError):
            tally.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            tally.errors.append(f"fatal: {event.exception!r}")
    return tally


def only(document: dict[str, Any], tag: str) -> dict[str, Any]:
    """``document`` with only the operations tagged ``tag`` (the engine's own tag filter gives way to
    per-operation settings, which the fuzzing needs for path parameters)."""
    paths = {}
    for path, item in document["paths"].items():
        kept = {
            key: op for key, op in item.items() if not isinstance(op, dict) or tag in op.get("tags", [tag])
        }
        if any(isinstance(op, dict) and "responses" in op for op in kept.values()):
            paths[path] = kept
    return {**document, "paths": paths}


def _record(tally: Tally, event: events.ScenarioFinished) -> None:
    recorder = event.recorder
    for case_id, interaction in recorder.interactions.items():
        if interaction.response is None:
            continue
        status = interaction.response.status_code
        tally.requests += 1
        tally.by_status[status] += 1
        tally.by_operation[recorder.label] += 1
        case = recorder.cases[case_id].value
        key = (case.method.upper(), case.operation.path, status)
        if status >= 500 and key not in DOWNSTREAM_TIMEOUTS:
            tally.server_errors.append(f"{status} {case.as_curl_command()}")
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            case = recorder.cases[case_id].value
            failure = check.failure_info.failure
            where = f"{recorder.label} [{check.name}] {failure.title}"
            tally.failures.append(f"{where}: {failure.message}\n  {case.as_curl_command()}")
