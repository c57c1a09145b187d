"""Request accounting: per operation counts, status classes and latency percentiles (pure, no I/O)."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

CONNECTION = "connection"  # a request that got no HTTP answer (refused, reset, timed out)
EMPTY = "empty"  # an expected "nothing happened" answer (a long-poll's 408): not an error, not a 4xx


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0 < p <= 100) by the nearest-rank method: the smallest value with at
    least p % of the values at or below it. None for no values."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[rank - 1]


def status_class(status: int | None) -> str:
    """``2xx`` … ``5xx`` for an HTTP status, ``connection`` for a request with no answer."""
    if status is None:
        return CONNECTION
    return f"{status // 100}xx"


def latency_summary(seconds: Iterable[float]) -> dict[str, float | None]:
    """p50, p90, p99 and max, in milliseconds rounded to 0.1 (None when there is nothing)."""
    values = list(seconds)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "p50_ms": ms(percentile(values, 50)),
        "p90_ms": ms(percentile(values, 90)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(max(values) if values else None),
    }


@dataclass
class Operation:
    """What happened to one kind of request."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0


class RequestStats:
    """Thread-safe counts of every request the simulation made, by operation.

    An answer is an error when it is a connection failure or a status of 400 or more that the operation
    does not expect (a long-poll's 408 means "nothing happened" and is not an error)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._operations: dict[str, Operation] = {}
        self._classes: Counter[str] = Counter()
        self.requests = 0

    def record(
        self, operation: str, status: int | None, seconds: float, expected: Iterable[int] = ()
    ) -> None:
        allowed = set(expected)
        error = status is None or (status >= 400 and status not in allowed)
        with self._lock:
            entry = self._operations.setdefault(operation, Operation())
            entry.latencies.append(seconds)
            entry.statuses[str(status) if status is not None else CONNECTION] += 1
            entry.errors += error
            self._classes[EMPTY if status in allowed else status_class(status)] += 1
            self.requests += 1

    def classes(self) -> dict[str, int]:
        """Requests by status class so far: {"2xx": n, "4xx": n, …}; expected 4xx answers (a long-poll's
        408) are ``empty``, not ``4xx``."""
        with self._lock:
            return dict(self._classes)

    def errors_at_least(self, status: int) -> int:
        """Answers with a status of ``status`` or more (connection failures not included)."""
        with self._lock:
            return sum(
                count
                for entry in self._operations.values()
                for code, count in entry.statuses.items()
                if code != CONNECTION and int(code) >= status
            )

    def connection_failures(self) -> int:
        with self._lock:
            return self._classes[CONNECTION]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per operation: count, errors, statuses and the latency percentiles, sorted by name."""
        with self._lock:
            operations = {
                name: (list(e.latencies), dict(e.statuses), e.errors) for name, e in self._operations.items()
            }
        return {
            name: {"count": len(latencies), "errors": errors, "statuses": statuses}
            | latency_summary(latencies)
            for name, (latencies, statuses, errors) in sorted(operations.items())
        }
