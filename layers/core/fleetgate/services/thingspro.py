"""ThingsPro use cases: gateways, the ThingsPro API's tokens, and the remote-API requests of the one
command engine (rules in ``fleetgate.domain.thingspro``).

- ``register`` creates a registry device for a gateway with its ``THINGSPRO`` record, and returns, once,
  its access key inside the MQTT client configuration to post to the gateway.
- ``login`` checks an operator's name and password (Cognito) and issues a ThingsPro API token, kept as
  a digest; ``authenticate`` resolves one (one GetItem).
- ``submit`` records a request QUEUED (its secrets sealed with KMS) and ``pump``s the gateway's queue:
  when the gateway is online and nothing is awaiting an answer, the first queued request is recorded
  DELIVERED and published (``next_action``). ``pump`` runs again after every answer and every
  connection, so requests made while the gateway was offline go out in order when it is back; one past
  its expiry is never sent (the engine records it EXPIRED).
- ``answered`` records a gateway's answer on its request: a ``request-id`` that matches no request
  awaiting an answer is dropped and counted (``droppedAnswers``, metric ``ThingsProAnswersDropped``).
  A successful answer becomes the confirmed read of the path the request named in ``confirms``, and
  drops the confirmed reads it may have changed (``touches``).
- ``presence`` records a lifecycle event, if it is newer than the one kept (they may come out of
  order, or twice). On a connection, requests sent before it that were never answered are recorded
  FAILED (the gateway may or may not have applied them) and the queue moves on.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fleetgate import clock
from fleetgate.data import iot
from fleetgate.data import thingspro as store
from fleetgate.data.commands import CommandRepository
from fleetgate.data.thingspro import ConfirmedRead, GatewayRecord, ThingsProRepository
from fleetgate.domain import commands as rules
from fleetgate.domain import thingspro as tpe
from fleetgate.domain.commands import Answer, Command, CommandSpec, State
from fleetgate.domain.devices import Device, hash_token
from fleetgate.domain.thingspro import VOCABULARY, RemoteRequest
from fleetgate.errors import CallFailed, Conflict, FleetgateError, InvalidRequest, NotFound, Unauthorized
from fleetgate.observability import metrics
from fleetgate.retry import on_conflict
from fleetgate.services import commands as engine
from fleetgate.services import devices, mqtt_auth
from fleetgate.settings import get_settings

TOKEN_LIFETIME_MS = 3_600_000  # a ThingsPro API token lasts an hour, as an operator's sign-in does
DEVICE_TYPE = mqtt_auth.GATEWAY_TYPE  # the authorizer grants this type its gateway topics


def repository() -> ThingsProRepository:
    return ThingsProRepository(get_settings().require("devices_table"))


# --------------------------------------------------------------------------- gateways
@dataclass(frozen=True)
class Registered:
    device: Device
    access_key: str  # shown once
    configuration: dict[str, Any] | None  # None: the stack does not know its MQTT endpoint


def register(name: str | None, label: str | None = None) -> Registered:
    gateway_id = str(uuid.uuid4())
    record = GatewayRecord(gateway_id, clock.now_ms())
    device, access_key = devices.register(
        name or gateway_id,
        DEVICE_TYPE,
        label,
        device_id=gateway_id,
        queues=False,
        extra=[store.record_item(record)],
    )
    endpoint = mqtt_endpoint()
    configuration = None
    if endpoint is not None:
        host, port, tls = endpoint
        configuration = tpe.client_configuration(gateway_id, access_key, host, port, tls=tls)
    return Registered(device, access_key, configuration)


def mqtt_endpoint() -> tuple[str, int, bool] | None:
    """Where gateways connect: ``THINGSPRO_MQTT_URL`` (``mqtt://`` or ``mqtts://``) when the deployer
    gave one, else the stack's MQTT domain configuration on 8883 with TLS; None when neither is known."""
    settings = get_settings()
    if settings.thingspro_mqtt_url:
        url = urlsplit(settings.thingspro_mqtt_url)
        tls = url.scheme in ("mqtts", "ssl", "tls")
        return url.hostname or "localhost", url.port or (8883 if tls else 1883), tls
    if not settings.mqtt_domain_configuration:
        return None
    host = iot.domain_name(settings.mqtt_domain_configuration)
    return (host, 8883, True) if host else None


def gateway(gateway_id: str) -> GatewayRecord:
    found = repository().get(gateway_id)
    if found is None:
        raise NotFound(f"Gateway '{gateway_id}' not found")
    return found


# --------------------------------------------------------------------------- API tokens
def login(name: str, password: str) -> tuple[str, int]:
    """A new ThingsPro API token for an operator and when it expires (epoch ms)."""
    from fleetgate.data import operators  # noqa: PLC0415 - only the auth route signs in

    operators.password_login(get_settings().require("operator_user_pool_client_id"), name, password)
    token = secrets.token_urlsafe(32)
    expires = clock.now_ms() + TOKEN_LIFETIME_MS
    repository().put_token(hash_token(token), name, expires)
    return token, expires


def authenticate(token: object) -> str:
    """The operator a ThingsPro API token belongs to; ``Unauthorized`` for anything else."""
    if not isinstance(token, str) or not 16 <= len(token) <= 256:
        raise Unauthorized("A valid token is required")
    found = repository().token(hash_token(token))
    if found is None or found[1] <= clock.now_ms():
        raise Unauthorized("A valid token is required")
    return found[0]


# --------------------------------------------------------------------------- requests
@dataclass(frozen=True)
class Effects:
    """What a successful answer changes among the confirmed reads."""

    confirms: str | None = None  # the read path whose answer this one is
    touches: str | None = None  # the path whose ancestors and descendants it may have changed


def submit(
    gateway_id: str,
    request: RemoteRequest,
    *,
    secret_paths: Sequence[tuple[str | int, ...]] = (),
    lifetime_ms: int = tpe.DEFAULT_LIFETIME_S * 1000,
    effects: Effects = Effects(),
    record: GatewayRecord | None = None,
) -> Command:
    """Record ``request`` for the gateway (QUEUED, its secrets sealed) and send what can go now.
    ``record``: the gateway's record as the caller just read it (else it is read here)."""
    record = record or gateway(gateway_id)
    device = devices.get(gateway_id)
    key_id = get_settings().require("thingspro_key_id")
    body = tpe.seal(request.body, secret_paths, lambda plain: store.encrypt(key_id, gateway_id, plain))
    now = clock.now_ms()
    extras: dict[str, str | int | bool] = {}
    if effects.confirms is not None:
        extras["confirms"] = effects.confirms
    if effects.touches is not None:
        extras["touches"] = effects.touches
    spec = CommandSpec(
        name=f"{request.method} {request.path}"[:256],
        params_json=json.dumps(
            {"method": request.method, "target": request.target, "body": body}, separators=(",", ":")
        ),
        created=now,
        expires=now + lifetime_ms,
        retries=None,  # sent once: never again (``pump`` sends one at a time, ``next_action`` fails it)
        extras=extras,
    )
    command, _ = engine.send(VOCABULARY, _Queue(record), device, spec)
    if not record.online:
        return command  # nothing was sent: it is as recorded
    return engine.get(VOCABULARY, gateway_id, command.uuid)


def wait(command: Command, max_seconds: float) -> Command:
    """The request once the gateway answered (or it ended otherwise), or as it is after ``max_seconds``."""
    return engine.wait(VOCABULARY, command, max_seconds)


def request(gateway_id: str, request_id: int) -> Command:
    """One request of the gateway; ``NotFound`` for a device that is no gateway (the RPC table also
    holds ThingsBoard devices' RPCs, under the same kind of key)."""
    gateway(gateway_id)
    found = engine.repository(VOCABULARY).get(gateway_id, request_id)
    if found is None or found.seq is None:
        raise VOCABULARY.not_found(gateway_id, request_id)
    return found


def requests_page(gateway_id: str, limit: int, next_token: str | None) -> tuple[list[Command], str | None]:
    gateway(gateway_id)
    return engine.list_page(VOCABULARY, gateway_id, limit, next_token)


def open_requests(gateway_id: str) -> list[Command]:
    """The gateway's requests still to be sent or answered, in order."""
    now = clock.now_ms()
    return [
        c for c in engine.repository(VOCABULARY).pollable(gateway_id) if c.effective_state(now) in rules.OPEN
    ]


def cancel(gateway_id: str, request_id: int) -> Command:
    return engine.cancel(VOCABULARY, gateway_id, request(gateway_id, request_id).uuid)


@dataclass(frozen=True)
class _Queue:
    """The engine's delivery for remote-API requests: recorded QUEUED, sent by ``pump``."""

    record: GatewayRecord
    pushed: bool = False
    failure: str = "Publish failed"

    def deliver(self, device: Device, command: Command) -> None:
        pump(device.id, self.record)


def pump(gateway_id: str, record: GatewayRecord | None = None) -> Command | None:
    """Send the gateway's next request if it is online and nothing awaits an answer; returns it.
    ``record``: the gateway's record as the caller just read it (else it is read here)."""
    found = record or repository().get(gateway_id)
    if found is None or not found.online:
        return None
    repo = engine.repository(VOCABULARY)
    while True:
        sent = on_conflict(lambda: _advance(repo, gateway_id))
        if sent is None:
            return None
        try:
            _publish(gateway_id, sent)
        except CallFailed as exc:
            _end(repo, sent, f"Publish failed: {exc.message}")
            continue
        return sent


def _advance(repo: CommandRepository, gateway_id: str) -> Command | None:
    now = clock.now_ms()
    queue = repo.pollable(gateway_id)
    for command in queue:
        ended = rules.settle(command, now)
        if ended is not None:
            repo.replace(command, ended)
    action = tpe.next_action(queue, now)
    for command in action.fail:
        repo.replace(command, rules.delivery_failed(command, "No answer within 60 s", now, VOCABULARY))
    if action.deliver is None:
        return None
    delivered = rules.deliver(action.deliver, now)
    repo.replace(action.deliver, delivered)
    return delivered


def _publish(gateway_id: str, command: Command) -> None:
    body = tpe.unseal(command.params.get("body"), lambda sealed: store.decrypt(gateway_id, sealed))
    message = tpe.envelope(command, body)
    iot.publish(
        tpe.topics(gateway_id).request,
        json.dumps(message, separators=(",", ":")).encode(),
        qos=1,
        message_expiry_s=max(1, -(-(command.expires - clock.now_ms()) // 1000)),
    )


def _end(repo: CommandRepository, command: Command, reason: str) -> None:
    with contextlib.suppress(Conflict):  # it moved on meanwhile
        repo.replace(command, rules.delivery_failed(command, reason, clock.now_ms(), VOCABULARY))


# --------------------------------------------------------------------------- answers
Masker = Callable[[Any], Any]


def answered(gateway_id: str, raw: bytes, mask: Masker) -> Command | None:
    """Record one answer published by the gateway; the request it answered, None when it was dropped.
    ``mask`` hides the secrets in the gateway's payload before anything is stored."""
    parsed = tpe.parse_answer(raw)
    if parsed.request_id is None:
        _dropped(gateway_id)
        return None
    payload = mask(parsed.payload)
    result = json.dumps({"state": parsed.state, "payload": payload}, separators=(",", ":"))
    try:
        command, written = engine.answer(
            VOCABULARY, gateway_id, parsed.request_id, Answer(tpe.answer_state(parsed.state), result)
        )
    except FleetgateError:  # no such request, or it no longer awaits an answer (late, repeated)
        _dropped(gateway_id)
        return None
    if command is None or not written:
        _dropped(gateway_id)
        return None
    confirm_answer(command)
    pump(gateway_id)
    return command


def _dropped(gateway_id: str) -> None:
    metrics.add_metric(name="ThingsProAnswersDropped", unit="Count", value=1)
    with contextlib.suppress(FleetgateError):  # best effort: the answer is dropped either way
        repository().count_dropped(gateway_id)


def confirm_answer(command: Command) -> None:
    """Make a successful answer the confirmed read of the path its request ``confirms``, and drop the
    confirmed reads it may have changed (``touches``). Run by the answer's rule function and by the
    request's waiting caller alike (whichever comes first, so a read just after the answer finds it);
    a later request's confirmed read is never replaced by an earlier one's."""
    result = command.result
    if command.state is not State.SUCCEEDED or not isinstance(result, dict) or command.seq is None:
        return
    gateway_id, status, payload = command.device_id, int(result.get("state", 200)), result.get("payload")
    repo = repository()
    touched = command.extras.get("touches")
    confirms = command.extras.get("confirms")
    if isinstance(touched, str):
        related = [p for p in repo.confirmed_paths(gateway_id) if p != confirms and _related(p, touched)]
        repo.forget(gateway_id, related)
    if isinstance(confirms, str):
        repo.confirm(gateway_id, ConfirmedRead(confirms, status, payload, command.seq, clock.now_ms()))


def _related(read_path: str, changed: str) -> bool:
    """Whether a change at ``changed`` may change what a read of ``read_path`` answers: one is the
    other, or an ancestor of it (``/mqtt`` and ``/mqtt/1/store-and-forward``)."""
    a, b = read_path.split("?", 1)[0].rstrip("/"), changed.split("?", 1)[0].rstrip("/")
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def confirmed(gateway_id: str, path: str) -> ConfirmedRead | None:
    return repository().confirmed(gateway_id, path)


def pending_for(gateway_id: str, path: str) -> list[Command]:
    """The open requests that may change what a read of ``path`` answers."""
    return [c for c in open_requests(gateway_id) if _related(path, str(c.params.get("target", "")))]


# --------------------------------------------------------------------------- presence
def presence(event: object) -> bool:
    """Record one lifecycle event of a gateway; False when it is not a gateway's or tells nothing new."""
    parsed = tpe.parse_presence(event)
    if parsed is None:
        return False
    client_id, seen = parsed
    repo = repository()

    def attempt() -> bool | None:
        current = repo.get(client_id)
        if current is None or not tpe.newer(seen, current.presence):
            return False
        if not repo.set_presence(client_id, seen, current.presence):
            raise Conflict("presence changed")
        return True

    if not on_conflict(attempt):
        return False
    if seen.connected:
        _fail_unanswered(client_id, seen.at)
        pump(client_id)
    return True


def _fail_unanswered(gateway_id: str, connected_at: int) -> None:
    repo = engine.repository(VOCABULARY)
    for command in repo.pollable(gateway_id):
        delivered = command.last_delivered_time
        if command.state is State.DELIVERED and delivered is not None and delivered < connected_at:
            _end(
                repo, command, "The gateway disconnected before answering; it may or may not have applied it"
            )


# --------------------------------------------------------------------------- message groups
def ingest(gateway_id: str, topic: str, payload: bytes, received_ms: int) -> int:
    """Keep one message a gateway's message group published under ``thingspro/<id>/messages/``: in
    ThingsPro's default format, one series per tag (``<provider>/<source>/<tag>``, at each reading's
    ``updateTimeStamp``); in any other format, the message as one JSON value under the key of its
    topic's tail (``messages/plant-1`` -> ``plant-1``), at the time it was received. Returns the
    timestamps written; ``InvalidRequest`` for a message that is neither."""
    from fleetgate.domain import thingspro_messages as messages  # noqa: PLC0415 - message functions only
    from fleetgate.domain.telemetry import TelemetryRecord  # noqa: PLC0415
    from fleetgate.services import telemetry  # noqa: PLC0415

    gateway(gateway_id)
    prefix = tpe.topics(gateway_id).messages + "/"
    if not topic.startswith(prefix) or len(topic) == len(prefix):
        raise InvalidRequest(f"Not a message topic of gateway '{gateway_id}'")
    samples = messages.default_format_series(payload)
    if samples is not None:
        records = [TelemetryRecord(s.ts_ms, {s.key: s.value}) for s in samples]
    else:
        value = messages.json_record(payload)
        if value is None:
            raise InvalidRequest("A message group's message must be JSON")
        records = [TelemetryRecord(received_ms, {topic[len(prefix) :]: value})]
    return telemetry.record(gateway_id, records)


def tag_values(gateway_id: str) -> dict[tuple[str, str], object]:
    """The latest value of each tag the gateway's default-format messages reported, by (source, tag)."""
    from fleetgate.services import telemetry  # noqa: PLC0415 - messages/test only

    values: dict[tuple[str, str], object] = {}
    for key, latest in telemetry.latest(gateway_id).items():
        parts = key.split("/")
        if len(parts) == 3:
            values[(parts[1], parts[2])] = latest.value
    return values


# --------------------------------------------------------------------------- files
def keep_file(gateway_id: str, kind: str, name: str, data: bytes) -> str:
    """Keep an upload (``kind`` ``uploads``) or a download (``downloads``) of the gateway in the files
    bucket, encrypted with the ThingsPro key; returns its key (``thingspro/<id>/<kind>/<uuid>/<name>``)."""
    settings = get_settings()
    key = f"thingspro/{gateway_id}/{kind}/{uuid.uuid4()}/{name}"
    store.keep_file(settings.require("files_bucket"), key, data, settings.require("thingspro_key_id"))
    return key
