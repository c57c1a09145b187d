"""Server-side RPC (operator → device): the lifecycle as pure rules, no AWS.

An RPC gets a per-device integer ``id`` (1, 2, 3… — what the device sees and answers to) and an
operator-facing ``rpc_id`` (a UUID). Its lifecycle follows ThingsBoard's persistent RPC:

    QUEUED ──poll──▶ DELIVERED ──reply──▶ SUCCESSFUL
      │  │ (one-way: SUCCESSFUL when delivered)  ├──expires──▶ TIMEOUT
      │  └──expires──▶ EXPIRED                   └──retries exhausted──▶ FAILED
      └──operator cancels──▶ CANCELED

- Expiry is ``expirationTime`` when the operator gives one, else ``now + max(5000, timeout)`` ms with
  ``timeout`` defaulting to 10000 (ThingsBoard's ``min_timeout`` and ``default_timeout``).
- A poll delivers the first open RPC in id order. A two-way RPC that was delivered and not answered
  is delivered again on every poll until it is answered or expires (ThingsBoard's head-of-line
  re-delivery); with ``retries`` set it becomes FAILED once it was delivered ``retries + 1`` times.
- An RPC past its expiration is never delivered and never accepts a reply. Until a writer records
  that (``settle``), readers see its ``effective_status``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from fleetgate.errors import Conflict, InvalidRequest

DEFAULT_TIMEOUT_MS = 10_000  # ThingsBoard server.rest.server_side_rpc.default_timeout
MIN_TIMEOUT_MS = 5_000  # ThingsBoard server.rest.server_side_rpc.min_timeout
MAX_LIFETIME_MS = 30 * 86_400_000  # an RPC may wait for its device at most 30 days
MAX_METHOD = 255
MAX_RETRIES = 100


class RpcStatus(StrEnum):
    QUEUED = "QUEUED"
    DELIVERED = "DELIVERED"
    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    TIMEOUT = "TIMEOUT"
    CANCELED = "CANCELED"


OPEN = frozenset({RpcStatus.QUEUED, RpcStatus.DELIVERED})


@dataclass(frozen=True)
class RpcRequest:
    """What an operator asks for, validated; nothing is stored until it is."""

    method: str
    params: Any
    oneway: bool
    persistent: bool
    expiration_time: int  # epoch ms
    received_at: int  # epoch ms: the RPC's creation time, from which a timeout counts
    retries: int | None = None
    additional_info: Any = None


@dataclass(frozen=True)
class Rpc:
    device_id: str
    id: int  # per device, from 1: what the device sees
    rpc_id: str  # UUID: what the operator sees
    method: str
    params: Any
    oneway: bool
    persistent: bool
    status: RpcStatus
    created_time: int  # epoch ms
    expiration_time: int  # epoch ms
    retain_until: int  # epoch seconds: when the record may be deleted (TTL)
    retries: int | None = None
    additional_info: Any = None
    deliveries: int = 0
    delivered_time: int | None = None  # first delivery
    last_delivered_time: int | None = None
    completed_time: int | None = None
    response: Any = None  # the device's reply (SUCCESSFUL two-way RPCs)
    version: int = 1  # bumped by every write; writes are conditional on it

    @property
    def open(self) -> bool:
        return self.status in OPEN

    def due(self, now: int) -> bool:
        """Whether the RPC's expiration has passed."""
        return now >= self.expiration_time

    def effective_status(self, now: int) -> RpcStatus:
        """The status as of ``now``: an open RPC past its expiration is EXPIRED (never delivered) or
        TIMEOUT (delivered, not answered), whether or not a writer has recorded it yet."""
        if self.open and self.due(now):
            return RpcStatus.EXPIRED if self.status == RpcStatus.QUEUED else RpcStatus.TIMEOUT
        return self.status

    @property
    def retries_exhausted(self) -> bool:
        return (
            self.status == RpcStatus.DELIVERED and self.retries is not None and self.deliveries > self.retries
        )

    def to_device(self) -> dict[str, Any]:
        """ThingsBoard's ``GET /rpc`` body."""
        return {"id": self.id, "method": self.method, "params": self.params}


# --------------------------------------------------------------------------- requests
def rpc_request(
    *,
    method: Any,
    params: Any = None,
    oneway: bool = False,
    persistent: bool = False,
    timeout: int | None = None,
    expiration_time: int | None = None,
    retries: int | None = None,
    additional_info: Any = None,
    now: int,
) -> RpcRequest:
    """Validate an operator's RPC. ``params`` absent means ``{}``."""
    if not isinstance(method, str) or not 1 <= len(method) <= MAX_METHOD:
        raise InvalidRequest(f"method must be a string of 1-{MAX_METHOD} characters")
    if timeout is not None and not 0 <= timeout <= MAX_LIFETIME_MS:
        raise InvalidRequest(f"timeout must be between 0 and {MAX_LIFETIME_MS} milliseconds")
    if retries is not None and not 0 <= retries <= MAX_RETRIES:
        raise InvalidRequest(f"retries must be between 0 and {MAX_RETRIES}")
    if expiration_time is None:
        expires = expiration(now, timeout)
    elif expiration_time <= now:
        raise InvalidRequest("expirationTime must be in the future (epoch milliseconds)")
    elif expiration_time > now + MAX_LIFETIME_MS:
        raise InvalidRequest(f"expirationTime must be at most {MAX_LIFETIME_MS} ms from now")
    else:
        expires = expiration_time
    return RpcRequest(
        method=method,
        params={} if params is None else params,
        oneway=oneway,
        persistent=persistent,
        expiration_time=expires,
        received_at=now,
        retries=retries,
        additional_info=additional_info,
    )


def expiration(now: int, timeout: int | None) -> int:
    """ThingsBoard's rule: ``now + max(min_timeout, timeout)``, ``timeout`` defaulting to 10 s."""
    return now + max(MIN_TIMEOUT_MS, DEFAULT_TIMEOUT_MS if timeout is None else timeout)


def new_rpc(request: RpcRequest, *, device_id: str, id: int, rpc_id: str, retention_days: int) -> Rpc:
    return Rpc(
        device_id=device_id,
        id=id,
        rpc_id=rpc_id,
        method=request.method,
        params=request.params,
        oneway=request.oneway,
        persistent=request.persistent,
        status=RpcStatus.QUEUED,
        created_time=request.received_at,
        expiration_time=request.expiration_time,
        retain_until=-(-request.expiration_time // 1000) + retention_days * 86_400,
        retries=request.retries,
        additional_info=request.additional_info,
    )


# --------------------------------------------------------------------------- transitions
def settle(rpc: Rpc, now: int) -> Rpc | None:
    """The terminal state an open RPC has reached without anyone recording it: EXPIRED or TIMEOUT
    past its expiration, FAILED when its retries are exhausted. None when there is nothing to record."""
    if not rpc.open:
        return None
    if rpc.due(now):
        return _finish(rpc, rpc.effective_status(now), now)
    if rpc.retries_exhausted:
        return _finish(rpc, RpcStatus.FAILED, now)
    return None


def deliverable(rpc: Rpc, now: int) -> bool:
    return rpc.open and settle(rpc, now) is None


def deliver(rpc: Rpc, now: int) -> Rpc:
    """The RPC after a poll hands it to the device: a one-way RPC is then SUCCESSFUL (delivered
    once, nothing to wait for); a two-way RPC is DELIVERED, again on each re-delivery."""
    if not deliverable(rpc, now):
        raise Conflict(f"RPC {rpc.id} is {rpc.effective_status(now)} and cannot be delivered")
    delivered = replace(
        rpc,
        deliveries=rpc.deliveries + 1,
        delivered_time=rpc.delivered_time if rpc.delivered_time is not None else now,
        last_delivered_time=now,
        version=rpc.version + 1,
    )
    if rpc.oneway:
        return replace(delivered, status=RpcStatus.SUCCESSFUL, completed_time=now)
    return replace(delivered, status=RpcStatus.DELIVERED)


def answer(rpc: Rpc, response: Any, now: int) -> Rpc | None:
    """The RPC after the device's reply, or None when the reply is to be ignored (ThingsBoard answers
    200 and drops it): the RPC is one-way, not delivered yet, already finished, or expired."""
    if rpc.oneway or rpc.status != RpcStatus.DELIVERED or rpc.due(now):
        return None
    return replace(_finish(rpc, RpcStatus.SUCCESSFUL, now), response=response)


def cancel(rpc: Rpc, now: int) -> Rpc:
    """Only an RPC the device has not been given yet can be canceled."""
    status = rpc.effective_status(now)
    if status != RpcStatus.QUEUED:
        raise Conflict(f"RPC {rpc.rpc_id} is {status}; only a QUEUED RPC can be canceled")
    return _finish(rpc, RpcStatus.CANCELED, now)


def _finish(rpc: Rpc, status: RpcStatus, now: int) -> Rpc:
    return replace(rpc, status=status, completed_time=now, version=rpc.version + 1)
