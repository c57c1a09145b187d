"""Per-item atomicity for moto's DynamoDB.

moto checks a write's condition and then applies the write in two steps with no lock, so two threads
can both pass ``version = :expected`` and one update is lost: something real DynamoDB never allows.
Concurrency tests must test fleetgate's conditional writes, not moto's race, so the local stack, the
integration tests and ``make bench`` serialise moto's DynamoDB operations with one lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

_LOCK = threading.RLock()
_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "transact_write_items")
_MARK = "_fleetgate_atomic"


def make_dynamodb_atomic() -> None:
    """Wrap moto's DynamoDB backend operations in one lock (idempotent)."""
    for name in _OPERATIONS:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, _MARK, False):
            continue
        setattr(DynamoDBBackend, name, _locked(original))


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    setattr(locked, _MARK, True)
    return locked
