"""The ThingsPro dialect's rules: Moxa ThingsPro Edge gateways managed from the cloud through the MQTT
remote API of ThingsPro's own MQTT client. Pure: no I/O, no clock of its own.

A gateway is a registry device. Its MQTT client (configured once on the gateway with the body
``client_configuration`` gives) subscribes to its request topic and answers on its response topic; its
message groups publish under its messages prefix. All three live under ``thingspro/<gateway id>/``, the
topic space the MQTT authorizer grants it.

The remote API (Moxa's format):

- request, cloud -> gateway: ``{"path", "method", "headers": [{"request-expired-time": "YYYY-MM-DD
  HH:MM:SS"}, {"request-id": "<integer>"}], "requestBody"}``; the path has no ``/api/v1``; the time is
  UTC, and the gateway refuses a request past it;
- answer, gateway -> cloud: ``{"request-id", "state", "payload"}``; ``payload`` is an object or a JSON
  string (both forms are documented), ``request-id`` a string or a number (``-1`` when the gateway could
  not read the request's headers).

Every request is a command of the one engine (``fleetgate.services.commands``), in the SEQUENCE scheme:
its per-gateway integer is the ``request-id``. Requests are delivered one at a time, in id order
(``next_action``): AWS IoT does not keep publishes in order, and a configuration change must not
overtake the one before it. A delivered request that gets no answer within ``ANSWER_WINDOW_MS`` is
recorded FAILED and the next one goes; a late answer to it is dropped.

Secrets (``fleetgate.contracts.thingspro.secret_paths``) never stay in a stored request in clear:
``seal`` replaces each with ``{"$sealed": <ciphertext>}`` before the request is recorded, ``unseal``
puts them back only in the message published to the gateway, and ``masked`` shows ``MASK`` instead.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from fleetgate.domain import mqtt_policy
from fleetgate.domain.commands import Command, IdScheme, State, Vocabulary
from fleetgate.errors import FleetgateError, InvalidRequest, NotFound

TOPIC_ROOT = mqtt_policy.THINGSPRO_TOPIC_ROOT
ROUTE_PREFIX = "/thingspro/gateways/{gateway_id}/api/v1"  # a gateway's ThingsPro Cloud API
EXPIRY_FORMAT = "%Y-%m-%d %H:%M:%S"
ANSWER_WINDOW_MS = 60_000  # how long a delivered request may stay unanswered before the next one goes
DEFAULT_LIFETIME_S = 86_400  # a request the operator gave no lifetime expires a day after it was made
MAX_LIFETIME_S = 7 * 86_400
MIN_LIFETIME_S = 10
SEALED = "$sealed"
MASK = "******"
# the field names that hold a secret in Moxa's schemas and forms: a private key (its file, its content)
# is one, a certificate is not (it is public); ``endorsementKey`` is a TPM's public key
SECRET_FIELDS: frozenset[str] = frozenset(
    {"password", "connectionString", "symmetricKey", "caPkFile", "identityPk"}
)
METHODS = frozenset({"GET", "PUT", "POST", "PATCH", "DELETE"})
MAX_PATH = 1024


@dataclass(frozen=True)
class Topics:
    request: str  # the gateway subscribes (remoteAPI.requestSubTopic)
    response: str  # the gateway publishes answers (remoteAPI.responsePubTopic)
    messages: str  # its message groups publish under this prefix


def topics(gateway_id: str) -> Topics:
    root = f"{TOPIC_ROOT}/{gateway_id}"
    return Topics(f"{root}/api/request", f"{root}/api/response", f"{root}/messages")


def client_configuration(
    gateway_id: str, access_key: str, host: str, port: int, *, tls: bool
) -> dict[str, Any]:
    """The body to ``POST /api/v1/mqtt`` on the gateway itself: its MQTT client, connected to this
    stack as the gateway, with the remote API on its own topics (an MQTTConfiguration of Moxa's)."""
    own = topics(gateway_id)
    return {
        "enable": True,
        "server": host,
        "port": port,
        "protocolVersion": "3.1.1",
        "keepAliveSec": 60,
        "clearSession": True,
        "certificateOverTLS": tls,
        "tlsVersion": "1.2",
        "clientID": gateway_id,
        "userName": gateway_id,
        "password": access_key,
        "qos": 1,
        "retain": False,
        "remoteAPI": {
            "enable": True,
            "requestSubTopic": own.request,
            "responsePubTopic": own.response,
            "qos": 1,
            "retain": False,
        },
    }


def message_topic_allowed(gateway_id: str, topic: object) -> bool:
    """A message group's output topic must be under the gateway's messages prefix: AWS IoT disconnects
    a client that publishes where its policy does not allow."""
    prefix = topics(gateway_id).messages + "/"
    return (
        isinstance(topic, str)
        and topic.startswith(prefix)
        and len(topic) > len(prefix)
        and not any(c in topic for c in "+#\0")
    )


# --------------------------------------------------------------------------- the engine's words
class RemoteApiVocabulary(Vocabulary):
    name = "thingspro"
    id_scheme = IdScheme.SEQUENCE
    statuses: ClassVar[Mapping[State, str]] = {
        State.QUEUED: "queued",
        State.DELIVERED: "sent",
        State.IN_PROGRESS: "in_progress",
        State.SUCCEEDED: "succeeded",
        State.FAILED: "failed",
        State.REJECTED: "rejected",
        State.EXPIRED: "expired",
        State.TIMED_OUT: "timed_out",
        State.CANCELED: "canceled",
    }
    cancelable = frozenset({State.QUEUED})

    def label(self, command: Command) -> str:
        return str(command.seq)

    def not_found(self, device_id: str, key: int | str) -> FleetgateError:
        return NotFound(f"Request '{key}' not found for gateway '{device_id}'")


VOCABULARY = RemoteApiVocabulary()


@dataclass(frozen=True)
class RemoteRequest:
    """What the operator asked the gateway, validated: a ThingsPro REST call."""

    method: str
    path: str  # as the gateway serves it: no /api/v1
    body: Any  # JSON, sealed before it is stored
    query: Mapping[str, str]

    @property
    def target(self) -> str:
        if not self.query:
            return self.path
        return self.path + "?" + "&".join(f"{k}={v}" for k, v in sorted(self.query.items()))


def check_request(method: object, path: object) -> tuple[str, str]:
    """A method and a gateway path the remote API can carry, else ``InvalidRequest``."""
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise InvalidRequest(f"method must be one of {', '.join(sorted(METHODS))}")
    if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_PATH:
        raise InvalidRequest(f"path must start with / and be at most {MAX_PATH} characters")
    if path.startswith("/api/v1/") or any(ord(c) < 0x20 for c in path) or "//" in path:
        raise InvalidRequest("path is the gateway's path, without /api/v1, e.g. /system/sshserver")
    return method.upper(), path


def lifetime_ms(requested_s: object) -> int:
    if requested_s is None:
        return DEFAULT_LIFETIME_S * 1000
    if isinstance(requested_s, bool) or not isinstance(requested_s, int):
        raise InvalidRequest("expiresIn must be an integer number of seconds")
    if not MIN_LIFETIME_S <= requested_s <= MAX_LIFETIME_S:
        raise InvalidRequest(f"expiresIn must be between {MIN_LIFETIME_S} and {MAX_LIFETIME_S} seconds")
    return requested_s * 1000


def expiry_text(epoch_ms: int) -> str:
    """``request-expired-time``: UTC, whole seconds, rounded down so the gateway never holds a request
    longer than the cloud does."""
    return datetime.fromtimestamp(epoch_ms // 1000, UTC).strftime(EXPIRY_FORMAT)


def envelope(command: Command, body: Any) -> dict[str, Any]:
    """The remote-API request for ``command`` (``body`` unsealed by the caller)."""
    params = command.params
    message: dict[str, Any] = {
        "path": params["target"],
        "method": params["method"],
        "headers": [{"request-expired-time": expiry_text(command.expires)}, {"request-id": str(command.seq)}],
    }
    if body is not None:
        message["requestBody"] = body
    return message


@dataclass(frozen=True)
class RemoteAnswer:
    request_id: int | None  # None: the gateway could not tell which request (-1), or no usable id
    state: int
    payload: Any


def parse_answer(raw: bytes) -> RemoteAnswer:
    """A gateway's answer, else ``InvalidRequest``. ``payload`` given as a JSON string is decoded
    (a string that is not JSON stays the string)."""
    try:
        message = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("an answer must be a JSON object") from None
    if not isinstance(message, dict):
        raise InvalidRequest("an answer must be a JSON object")
    state = message.get("state")
    if isinstance(state, bool) or not isinstance(state, int) or not 100 <= state <= 599:
        raise InvalidRequest("state must be an HTTP status")
    payload = message.get("payload")
    if isinstance(payload, str):
        with contextlib.suppress(ValueError):
            payload = json.loads(payload)
    raw_id = message.get("request-id")
    request_id: int | None = None
    if isinstance(raw_id, str) and raw_id.isdigit() and len(raw_id) <= 18:
        request_id = int(raw_id)
    elif isinstance(raw_id, int) and not isinstance(raw_id, bool) and raw_id > 0:
        request_id = raw_id
    return RemoteAnswer(request_id, state, payload)


def answer_state(status: int) -> State:
    return State.SUCCEEDED if 200 <= status < 300 else State.FAILED


# --------------------------------------------------------------------------- delivery order
@dataclass(frozen=True)
class NextAction:
    """What the gateway's queue needs now: record ``fail`` as unanswered, then deliver ``deliver``."""

    fail: tuple[Command, ...]
    deliver: Command | None


def next_action(queue: Sequence[Command], now: int) -> NextAction:
    """Stop-and-wait over the gateway's open requests (id order): the first one sent and still within
    its answer window blocks the rest; sent ones past it are failed; then the first queued request
    that has not expired is the one to send. Expired ones are left to the engine's ``settle``."""
    failing: list[Command] = []
    for command in queue:
        if command.state is State.DELIVERED and command.effective_state(now) is State.DELIVERED:
            if now - (command.last_delivered_time or command.created) < ANSWER_WINDOW_MS:
                return NextAction(tuple(failing), None)
            failing.append(command)
        elif command.state is State.QUEUED and not command.due(now):
            return NextAction(tuple(failing), command)
    return NextAction(tuple(failing), None)


# --------------------------------------------------------------------------- presence
@dataclass(frozen=True)
class Presence:
    connected: bool
    version: int  # IoT Core's versionNumber of the connection
    at: int  # the event's timestamp, epoch ms


def parse_presence(event: object) -> tuple[str, Presence] | None:
    """The client id and presence of one lifecycle event, None for anything else."""
    if not isinstance(event, dict):
        return None
    kind, client, at = event.get("eventType"), event.get("clientId"), event.get("timestamp")
    version = event.get("versionNumber", 0)
    if kind not in ("connected", "disconnected") or not isinstance(client, str) or not client:
        return None
    if (
        isinstance(at, bool)
        or not isinstance(at, int)
        or isinstance(version, bool)
        or not isinstance(version, int)
    ):
        return None
    return client, Presence(kind == "connected", version, at)


def newer(event: Presence, current: Presence | None) -> bool:
    """Whether ``event`` tells more than ``current``: lifecycle events arrive out of order and twice.
    A later connection (versionNumber) wins; within one connection its end wins over its start; two
    connections IoT Core numbered alike are ordered by time."""
    if current is None:
        return True
    numbered = bool(event.version and current.version)
    if numbered and event.version != current.version:
        return event.version > current.version
    if not numbered and event.at != current.at:
        return event.at > current.at
    if event.connected == current.connected:
        return False
    return not event.connected


# --------------------------------------------------------------------------- secrets
Path = tuple[str | int, ...]


def seal(body: Any, paths: Sequence[Path], encrypt: Callable[[str], str]) -> Any:
    """A copy of ``body`` with the string at each of ``paths`` replaced by ``{SEALED: encrypt(it)}``."""
    sealed = copy.deepcopy(body)
    for path in paths:
        holder, last = _holder(sealed, path)
        value = holder[last]
        if isinstance(value, str) and value:
            holder[last] = {SEALED: encrypt(value)}
    return sealed


def secret_paths(body: object) -> list[Path]:
    """Where the secrets of a body (or an answer) are: the path (keys and list indexes) of every
    non-empty string under a ``SECRET_FIELDS`` name, at any depth (e.g. ``("brokerList", 0,
    "password")``). These are exactly the places ``mask`` changes."""
    return _walk(body, ())


def mask(value: Any) -> Any:
    """A deep copy of ``value`` with every secret (see ``secret_paths``) replaced by ``MASK``."""
    out = copy.deepcopy(value)
    for where in secret_paths(out):
        holder, last = _holder(out, where)
        holder[last] = MASK
    return out


def _walk(value: Any, where: Path) -> list[Path]:
    found: list[Path] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SECRET_FIELDS and isinstance(item, str) and item:
                found.append((*where, key))
            else:
                found.extend(_walk(item, (*where, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_walk(item, (*where, index)))
    return found


def unseal(body: Any, decrypt: Callable[[str], str]) -> Any:
    """``body`` with every sealed value decrypted (for the message to the gateway only)."""
    return _replace_sealed(body, decrypt)


def masked(body: Any) -> Any:
    """``body`` with every sealed value shown as ``MASK``."""
    return _replace_sealed(body, lambda _: MASK)


def _replace_sealed(value: Any, replace: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {SEALED} and isinstance(value[SEALED], str):
            return replace(value[SEALED])
        return {k: _replace_sealed(v, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_sealed(v, replace) for v in value]
    return value


def _holder(body: Any, path: Path) -> tuple[Any, Any]:
    holder = body
    for step in path[:-1]:
        holder = holder[step]
    return holder, path[-1]
