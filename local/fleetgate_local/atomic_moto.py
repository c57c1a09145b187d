"""Per-item atomicity for moto's DynamoDB.

moto checks a write's condition and then applies the write in two steps with no lock, so two threads
can both pass ``version = :expected`` and one update is lost: something real DynamoDB never allows.
Concurrency tests must test fleetgate's conditional writes, not moto's race, so the local stack, the
integration tests and ``make bench`` serialise moto's DynamoDB operations with one lock.

moto also backs up every table a transaction touches with a deep copy of the whole table, so that it
can roll a cancelled transaction back: a cost that grows with the table, under that lock. Here the
backup copies the table's index of items and only the items the transaction addresses (the only ones
it can change), which rolls back the same state at the cost of the transaction. And moto builds an
``UpdateItem``'s answer (``ReturnValues``) from the stored item after the backend call returns, where
another writer may already have changed it: the call returns a copy taken under the lock instead.
"""

from __future__ import annotations

import copy
import functools
import threading
import types
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

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
    vars(dynamodb_models)["copy"] = _BACKUPS  # the name moto's transactions back tables up with


class _TableBackups(types.SimpleNamespace):
    """``copy`` as moto's DynamoDB models see it: ``deepcopy`` of a table, inside a transaction, is a
    backup of its index and of the items the transaction addresses; anything else is copied as usual."""

    addressed: dict[str, list[dict[str, Any]]] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table) and self.addressed is not None:
            return _backup(value, self.addressed.get(value.name, []))
        return copy.deepcopy(value, memo)


_BACKUPS = _TableBackups()


def _backup(table: Table, keys: list[dict[str, Any]]) -> Table:
    backup = copy.copy(table)
    if table.has_range_key:
        backup.items = defaultdict(dict, {h: dict(ranges) for h, ranges in table.items.items()})
    else:
        backup.items = defaultdict(dict, table.items)
    for key in keys:
        item = table.get_item(_typed(key[table.hash_key_attr]), _range_value(table, key))
        if item is None:
            continue
        copied = copy.deepcopy(item)
        if table.has_range_key:
            backup.items[item.hash_key][item.range_key] = copied
        else:
            backup.items[item.hash_key] = copied  # type: ignore[assignment]
    return backup


def _typed(value: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    return DynamoType(value)


def _range_value(table: Table, key: dict[str, Any]) -> Any:
    if not table.has_range_key or table.range_key_attr not in key:
        return None
    return _typed(key[table.range_key_attr])


def _addressed(transact_items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    keys: dict[str, list[dict[str, Any]]] = {}
    for element in transact_items:
        for kind, operation in element.items():
            key = operation.get("Key") if kind != "Put" else operation.get("Item")
            if isinstance(key, dict) and "TableName" in operation:
                keys.setdefault(operation["TableName"], []).append(key)
    return keys


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            if method.__name__ == "update_item":  # moto reads its answer off the item after the lock
                return copy.deepcopy(method(*args, **kwargs))
            if method.__name__ != "transact_write_items":
                return method(*args, **kwargs)
            items = kwargs.get("transact_items", args[1] if len(args) > 1 else [])
            _BACKUPS.addressed = _addressed(items)
            try:
                return method(*args, **kwargs)
            finally:
                _BACKUPS.addressed = None

    setattr(locked, _MARK, True)
    return locked
