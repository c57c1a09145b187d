"""ThingsBoard server-side RPC on the command engine: its vocabulary, its request rules and its view.

An RPC gets a per-device integer ``id`` (1, 2, 3… — what the device sees and answers to) and an
operator-facing ``rpcId`` (a UUID): the engine's SEQUENCE id scheme. It follows ThingsBoard's persistent
RPC, delivered through a poll queue (the device's long-polled ``GET rpc``):

    QUEUED ──poll──▶ DELIVERED ──reply──▶ SUCCESSFUL
      │  │ (one-way: SUCCESSFUL when delivered)  ├──expires──▶ TIMEOUT
      │  └──expires──▶ EXPIRED                   └──retries exhausted──▶ FAILED
      └──operator cancels──▶ CANCELED

- Expiry is ``expirationTime`` when the operator gives one, else ``now + max(5000, timeout)`` ms with
  ``timeout`` defaulting to 10000 (ThingsBoard's ``min_timeout`` and ``default_timeout``).
- A two-way RPC delivered and not answered is delivered again on every poll until it is answered or
  expires (ThingsBoard's head-of-line re-delivery); with ``retries`` set it becomes FAILED once it was
  delivered ``retries + 1`` times.
- A reply ThingsBoard would drop (unknown id, not delivered yet, one-way, answered, expired) is
  ignored: nothing is written but a recorded expiry, and the device gets 200.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from fleetgate import clock
from fleetgate.domain.commands import Answer, Command, CommandSpec, IdScheme, State, Vocabulary
from fleetgate.domain.devices import Device
from fleetgate.errors import Conflict, FleetgateError, InvalidRequest, NotFound
from fleetgate.jsonutil import dumps, loads
from fleetgate.services import commands as engine

DEFAULT_TIMEOUT_MS = 10_000  # ThingsBoard server.rest.server_side_rpc.default_timeout
MIN_TIMEOUT_MS = 5_000  # ThingsBoard server.rest.server_side_rpc.min_timeout
MAX_LIFETIME_MS = 30 * 86_400_000  # an RPC may wait for its device at most 30 days
MAX_METHOD = 255
MAX_RETRIES = 100
now_ms = clock.now_ms  # the routes (and their tests) time their views with it


class RpcStatus(StrEnum):
    QUEUED = "QUEUED"
    DELIVERED = "DELIVERED"
    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    TIMEOUT = "TIMEOUT"
    CANCELED = "CANCELED"


class RpcVocabulary(Vocabulary):
    name = "thingsboard"
    id_scheme = IdScheme.SEQUENCE
    statuses: ClassVar[Mapping[State, str]] = {
        State.QUEUED: RpcStatus.QUEUED.value,
        State.DELIVERED: RpcStatus.DELIVERED.value,
        State.SUCCEEDED: RpcStatus.SUCCESSFUL.value,
        State.FAILED: RpcStatus.FAILED.value,
        State.EXPIRED: RpcStatus.EXPIRED.value,
        State.TIMED_OUT: RpcStatus.TIMEOUT.value,
        State.CANCELED: RpcStatus.CANCELED.value,
    }
    cancelable = frozenset({State.QUEUED})
    refuse_answers = False  # ThingsBoard answers 200 to a reply it drops

    def refusal(self, command: Command, state: State, action: str) -> FleetgateError:
        if action == "canceled":
            return Conflict(f"RPC {command.uuid} is {self.status(state)}; only a QUEUED RPC can be canceled")
        return Conflict(f"RPC {command.seq} is {self.status(state)} and cannot be {action}")

    def not_found(self, device_id: str, key: int | str) -> FleetgateError:
        return NotFound(f"RPC '{key}' not found for device '{device_id}'")


VOCABULARY = RpcVocabulary()
DELIVERY = engine.PollQueue("rpc")


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

    def spec(self) -> CommandSpec:
        extras: dict[str, str | int | bool] = {"persistent": self.persistent}
        if self.additional_info is not None:
            extras["additionalInfo"] = dumps(self.additional_info)
        return CommandSpec(
            name=self.method,
            params_json=dumps(self.params),
            created=self.received_at,
            expires=self.expiration_time,
            oneway=self.oneway,
            retries=self.retries,
            extras=extras,
        )


@dataclass(frozen=True)
class Rpc:
    """An engine command as ThingsBoard names it."""

    command: Command

    @property
    def device_id(self) -> str:
        return self.command.device_id

    @property
    def id(self) -> int:
        assert self.command.seq is not None
        return self.command.seq

    @property
    def rpc_id(self) -> str:
        return self.command.uuid

    @property
    def method(self) -> str:
        return self.command.name

    @property
    def params(self) -> Any:
        return self.command.params

    @property
    def oneway(self) -> bool:
        return self.command.oneway

    @property
    def persistent(self) -> bool:
        return bool(self.command.extras.get("persistent", False))

    @property
    def additional_info(self) -> Any:
        raw = self.command.extras.get("additionalInfo")
        return None if raw is None else loads(str(raw))

    @property
    def status(self) -> RpcStatus:
        return RpcStatus(VOCABULARY.status(self.command.state))

    def effective_status(self, now: int) -> RpcStatus:
        return RpcStatus(VOCABULARY.status(self.command.effective_state(now)))

    @property
    def open(self) -> bool:
        return self.command.open

    def due(self, now: int) -> bool:
        return self.command.due(now)

    @property
    def created_time(self) -> int:
        return self.command.created

    @property
    def expiration_time(self) -> int:
        return self.command.expires

    @property
    def retries(self) -> int | None:
        return self.command.retries

    @property
    def deliveries(self) -> int:
        return self.command.deliveries

    @property
    def delivered_time(self) -> int | None:
        return self.command.delivered_time

    @property
    def completed_time(self) -> int | None:
        return self.command.completed_time

    @property
    def response(self) -> Any:
        """The device's reply (SUCCESSFUL two-way RPCs)."""
        return self.command.result

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


def reply_answer(body: str) -> Answer:
    """A device's reply: the body parsed as JSON when it is JSON, else the text."""
    try:
        value = loads(body)
    except InvalidRequest:
        value = body
    return Answer(State.SUCCEEDED, dumps(value))


# --------------------------------------------------------------------------- use cases
def send(device: Device, request: RpcRequest) -> Rpc:
    """Queue an RPC for ``device`` and wake its poller."""
    command, _ = engine.send(VOCABULARY, DELIVERY, device, request.spec())
    return Rpc(command)


def wait_for_result(rpc: Rpc, max_seconds: float) -> Rpc:
    return Rpc(engine.wait(VOCABULARY, rpc.command, max_seconds))


def get(device_id: str, rpc_uuid: str) -> Rpc:
    return Rpc(engine.get(VOCABULARY, device_id, _checked_uuid(rpc_uuid)))


def list_page(device_id: str, limit: int, next_token: str | None) -> tuple[list[Rpc], str | None]:
    page, token = engine.list_page(VOCABULARY, device_id, limit, next_token)
    return [Rpc(c) for c in page], token


def cancel(device_id: str, rpc_uuid: str) -> Rpc:
    """Cancel an RPC the device has not been given yet; ``Conflict`` once it was delivered or ended."""
    return Rpc(engine.cancel(VOCABULARY, device_id, _checked_uuid(rpc_uuid)))


def next_for_device(device_id: str) -> dict[str, Any] | None:
    """What a poll hands the device: ``{"id", "method", "params"}``, or None."""
    command = engine.next_for_device(VOCABULARY, device_id)
    return None if command is None else Rpc(command).to_device()


def reply(device_id: str, rpc_id: int, body: str) -> bool:
    """Record the device's reply to RPC ``rpc_id``; False (nothing written) when ThingsBoard would
    drop it."""
    _, written = engine.answer(VOCABULARY, device_id, rpc_id, reply_answer(body))
    return written


def _checked_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise InvalidRequest(f"rpcId must be a UUID, got {value!r}") from exc
