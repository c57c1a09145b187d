"""Server-side RPC use cases: the operator sends, waits, reads and cancels; the device polls and replies.

DynamoDB holds every RPC until its device takes it, so an RPC sent while no poll waits is delivered by
the next poll (ThingsBoard's HTTP transport can hand it to a dead session instead). Every state change
is a write conditional on the version that was read, retried from a fresh read when another writer got
there first: two polls never both take a one-way RPC, a reply never overwrites an expiry.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from fleetgate.data import wakeups
from fleetgate.data.rpc import RpcRepository
from fleetgate.domain import rpc as rules
from fleetgate.domain.devices import Device
from fleetgate.domain.rpc import Rpc, RpcRequest
from fleetgate.errors import Conflict, InvalidRequest, NotFound, Retryable
from fleetgate.jsonutil import loads
from fleetgate.settings import get_settings

MAX_ATTEMPTS = 12
MAX_PAGE = 100
WAIT_STEP_S = (0.05, 0.1, 0.2, 0.25)  # the operator's wait re-reads the RPC at these intervals, then 0.25 s


def _repository() -> RpcRepository:
    return RpcRepository(get_settings().require("rpc_table"))


def now_ms() -> int:
    return int(time.time() * 1000)


# --------------------------------------------------------------------------- operator
def send(device: Device, request: RpcRequest) -> Rpc:
    """Queue an RPC for ``device`` and wake its poller. The request is validated before anything is
    written (``rules.rpc_request``)."""
    repo = _repository()
    settings = get_settings()
    rpc = rules.new_rpc(
        request,
        device_id=device.id,
        id=repo.next_id(device.id),
        rpc_id=str(uuid.uuid4()),
        retention_days=settings.rpc_retention_days,
    )
    repo.create(rpc)
    wakeups.notify(device.queues.get("rpc"), "rpc")
    return rpc


def wait_for_result(rpc: Rpc, max_seconds: float) -> Rpc:
    """``rpc`` once it is finished, or as it is when the wait ends: at its expiration (which is then
    recorded) or after ``max_seconds``, whichever comes first."""
    repo = _repository()
    start = time.monotonic()
    deadline = start + min(max_seconds, (rpc.expiration_time - now_ms()) / 1000)
    step = 0
    current = rpc
    while current.open:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(remaining, WAIT_STEP_S[min(step, len(WAIT_STEP_S) - 1)]))
        step += 1
        current = repo.get(rpc.device_id, rpc.id) or current
    if current.open and current.due(now_ms()):
        return _settle(rpc.device_id, rpc.id)
    return current


def get(device_id: str, rpc_uuid: str) -> Rpc:
    found = _repository().find(device_id, _checked_uuid(rpc_uuid))
    if found is None:
        raise NotFound(f"RPC '{rpc_uuid}' not found for device '{device_id}'")
    return found


def list_page(device_id: str, limit: int, next_token: str | None) -> tuple[list[Rpc], str | None]:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}")
    return _repository().list(device_id, limit, next_token)


def cancel(device_id: str, rpc_uuid: str) -> Rpc:
    """Cancel an RPC the device has not been given yet; ``Conflict`` once it was delivered or ended."""
    found = get(device_id, rpc_uuid)
    return _transition(device_id, found.id, rules.cancel)


# --------------------------------------------------------------------------- device
def next_for_device(device_id: str) -> dict[str, Any] | None:
    """What a poll hands the device: ``{"id", "method", "params"}`` of the first deliverable RPC in id
    order, recorded as delivered; None when there is none. Open RPCs found past their expiration (or
    out of retries) are recorded as such on the way and never delivered."""
    repo = _repository()
    for attempt in range(MAX_ATTEMPTS):
        now = now_ms()
        try:
            for rpc in repo.open_rpcs(device_id):
                settled = rules.settle(rpc, now)
                if settled is not None:
                    repo.replace(rpc, settled)
                    continue
                repo.replace(rpc, rules.deliver(rpc, now))
                return rpc.to_device()
            return None
        except Conflict:
            _backoff(attempt)  # another poll, a reply or the operator changed it: read again
    raise Retryable("The device's RPCs are being changed by many writers; poll again")


def reply(device_id: str, rpc_id: int, body: str) -> bool:
    """Record the device's reply to RPC ``rpc_id``: the body parsed as JSON when it is JSON, else the
    text. False (nothing written) when the id is unknown, stale or already answered, as ThingsBoard
    ignores such replies."""
    response = _reply_value(body)
    repo = _repository()
    for attempt in range(MAX_ATTEMPTS):
        rpc = repo.get(device_id, rpc_id)
        if rpc is None:
            return False
        answered = rules.answer(rpc, response, now_ms())
        if answered is None:
            return False
        try:
            repo.replace(rpc, answered)
            return True
        except Conflict:
            _backoff(attempt)
    raise Retryable("The RPC is being changed by many writers; retry the reply")


# --------------------------------------------------------------------------- helpers
def _settle(device_id: str, rpc_id: int) -> Rpc:
    """Record the expiry (or exhausted retries) of an RPC, if it has reached one."""
    return _transition(device_id, rpc_id, lambda rpc, now: rules.settle(rpc, now) or rpc)


def _transition(device_id: str, rpc_id: int, change: Callable[[Rpc, int], Rpc]) -> Rpc:
    """Apply ``change`` to the stored RPC and write it if it changed, retrying from a fresh read when
    another writer got there first. Domain errors raised by ``change`` propagate."""
    repo = _repository()
    for attempt in range(MAX_ATTEMPTS):
        rpc = repo.get(device_id, rpc_id)
        if rpc is None:
            raise NotFound(f"RPC {rpc_id} not found for device '{device_id}'")
        new = change(rpc, now_ms())
        if new is rpc:
            return rpc
        try:
            repo.replace(rpc, new)
            return new
        except Conflict:
            _backoff(attempt)
    raise Retryable("The RPC is being changed by many writers; retry the request")


def _reply_value(body: str) -> Any:
    try:
        return loads(body)
    except InvalidRequest:
        return body


def _checked_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise InvalidRequest(f"rpcId must be a UUID, got {value!r}") from exc


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.004 * 2 ** min(attempt, 6)))  # noqa: S311 - jitter, not crypto
