"""A ThingsPro Edge gateway in memory, as its MQTT "remote API" shows it to the cloud.

The cloud publishes a request on the gateway's ``remoteAPI.requestSubTopic``::

    {"path": "/mqtt/1/store-and-forward", "method": "PUT",
     "headers": [{"request-expired-time": "2026-12-01 18:45:26"}, {"request-id": "17"}],
     "requestBody": {…}}

and the gateway runs it against its own REST API (the paths of ThingsPro Cloud APIs 2.4.0, without the
``/api/v1`` prefix) and publishes ``{"request-id": "17", "state": 200, "payload": {…}}`` on
``remoteAPI.responsePubTopic``. ``Gateway.handle`` is that step with no MQTT and no clock: ``now`` is given.

Invariants (Moxa's documented behaviour):
- ``request-expired-time`` is UTC ``YYYY-MM-DD HH:MM:SS``; a request without a valid one, or whose time is
  before ``now``, is refused ``{"request-id": -1, "payload": {"code": 400, "message": "request time
  invalid(before now)"}, "state": 400}`` and never applied. A ``request-id`` that is not an integer string,
  a message that is not a JSON object, or one without ``path`` or ``method`` gets the same shape with its
  own message. A valid ``request-id`` is echoed back exactly as given (a string).
- An unknown path is ``{"request-id": …, "payload": {"error": {"code": 404, "message": "page not found"}},
  "state": 404}``; a known path with another method is 405 in the core error shape.
- Answers are what Moxa's document declares per operation: ``{"data": …}``, except the message-group
  collections (GET/POST ``…/messages``, DELETE ``…/messages/{id}``), which are bare arrays;
  ``/azure-iotedge/reset`` is 202; the twin/shadow/node ``reported`` and ``clear`` actions are
  ``{"data": "ok"}``. Errors are ``{"error": {"code", "message"}}``, except under ``/azure-iotedge``,
  whose document declares ``{"error": "<text>"}``. An unknown id under ``/azure-iotedge/messages`` is 400
  (the only error that document declares), elsewhere 404.
- Bodies are validated lightly (the cloud validates them against the schema first): the top-level type,
  the schema's required fields, the type of every field the state already has (an update keeps each
  field's JSON type), and the enumerations below. Ranges and lengths are not checked. Read-only fields
  (``id``, ``status``, ``disks``, ``iotedge``, …) in a body are ignored. PUT and PATCH merge the body into
  the current object (ThingsPro's own examples send partial bodies); POST creates from the defaults.

Choices of this simulator (Moxa does not say):
- Duplicate ``request-id``: an answer given to a valid ``request-id`` is kept (the last 1024), and a
  request with an id already answered gets that answer again and is not run again, whatever its content.
  Refused requests (``request-id`` -1) are not kept.
- An empty message (how a retained message is cleared) is no request: it is dropped (``None``).
- ``GET /sparkplug/configuration`` is ``application/zip`` over HTTP; over the remote API the zip travels
  base64-encoded as ``{"data": "<base64>"}``, and ``PUT /sparkplug/configuration`` takes ``{"file":
  "<base64 zip>", "password", "decryption"}`` in the JSON body. The zip holds ``sparkplug.json`` (the
  configuration, brokers, node properties, store-and-forward, properties and message groups) and is not
  encrypted (Python's zipfile writes no encrypted entries); the password is accepted and not used.
- File fields of the multipart operations (``caCertFile``, ``rootCaCertFile``, …) are JSON strings in the
  body, kept in the state as given.
- ``POST /sparkplug/messages`` without ``?type=`` creates a device group; ``GET`` without it lists both.
- ``applied`` records ``(request-id, method, path)`` of every request a route answered with a 2xx, in
  order (reads included), so tests can see what ran and that a duplicate did not run again.

Beyond the cloud API, so any ThingsPro REST call can be tried: ``GET``/``PUT /system/sshserver``
(``{enable, port}``) and ``PUT /modbusmaster/operate/direct-write-tag`` ``{prvdName, srcName, tagName,
dataType, dataValue}`` (answered ``{}``; the value is what the tag reads from then on, ``tags``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import io
import json
import re
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import defaults, tags

EXPIRED_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TIME_INVALID = "request time invalid(before now)"
ANSWERS_KEPT = 1024
IOTEDGE_RESET_S = 30
SPARKPLUG_ZIP_ENTRY = "sparkplug.json"

READ_ONLY = frozenset(
    {"id", "status", "disks", "onChange", "iotedge", "lastConectedTime", "endorsementKey", "certificateInfo"}
)
ENUMS: dict[str, frozenset[Any]] = {
    "protocolVersion": frozenset({"3.1", "3.1.1"}),
    "tlsVersion": frozenset({"1.3", "1.2", "1.1", "1.0"}),
    "dropBehavior": frozenset({"oldest", "newest"}),
    "samplingMode": frozenset({"allValues", "latestValues", "allChangedValues", "latestChangedValues"}),
    "sendOutThreshold.mode": frozenset({"byTime", "bySize", "immediately"}),
    "downstreamCerts.mode": frozenset({"default", "user", "moxa"}),
    "authenticationType": frozenset({"x509", "symmetricKey"}),
    "source": frozenset({"manual", "dps"}),
    "method": frozenset({"tpm", "symmetricKey", "x509"}),
}
DPS_FIELDS = {
    "tpm": ("scopeId", "registrationId"),
    "symmetricKey": ("scopeId", "registrationId", "symmetricKey"),
    "x509": ("scopeId", "registrationId", "identityCert", "identityPk"),
}
SPARKPLUG_ID_FORBIDDEN = re.compile(r"[+/#]")


class BadRequest(Exception):
    """A body the gateway refuses: 400 (or ``status``) in the path's error shape."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, Any]
    body: Any
    now: datetime


Handler = Callable[["Gateway", Request, dict[str, str]], tuple[int, Any]]
ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = []


def route(pattern: str, method: str) -> Callable[[Handler], Handler]:
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def register(handler: Handler) -> Handler:
        for existing, methods in ROUTES:
            if existing.pattern == regex.pattern:
                methods[method] = handler
                break
        else:
            ROUTES.append((regex, {method: handler}))
        return handler

    return register


class Gateway:
    """One ThingsPro Edge; ``state`` is JSON (``defaults.state()`` when not given) and may be saved."""

    def __init__(self, state: dict[str, Any] | None = None, *, payload_as_string: bool = False) -> None:
        self.state: dict[str, Any] = state if state is not None else defaults.state()
        self.payload_as_string = payload_as_string
        self.applied: list[tuple[str, str, str]] = []
        self._answers: OrderedDict[str, dict[str, Any]] = OrderedDict()

    # ------------------------------------------------------------------ the remote API
    def handle(self, message: bytes, now: datetime) -> dict[str, Any] | None:  # noqa: PLR0911
        """The answer to publish for one request, or None for a message that is no request."""
        if not message.strip():
            return None
        try:
            request = json.loads(message)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return self._refused("request invalid(not a JSON object)")
        if not isinstance(request, dict):
            return self._refused("request invalid(not a JSON object)")
        headers = _headers(request.get("headers"))
        expires = _expired_time(headers.get("request-expired-time")) if headers is not None else None
        if expires is None or expires < _utc(now):
            return self._refused(TIME_INVALID)
        assert headers is not None  # a valid time came from them
        request_id = headers.get("request-id")
        if not isinstance(request_id, str) or not re.fullmatch(r"\d+", request_id):
            return self._refused("request id invalid")
        if request_id in self._answers:
            return copy.deepcopy(self._answers[request_id])
        path, method = request.get("path"), request.get("method")
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(method, str):
            return self._refused("request invalid(path and method are required)")
        state, payload = self.call(method, path, request.get("requestBody"), now, headers=headers)
        if 200 <= state < 300:
            self.applied.append((request_id, method.upper(), path))
        answer = {
            "request-id": request_id,
            "state": state,
            "payload": json.dumps(payload) if self.payload_as_string else payload,
        }
        self._answers[request_id] = copy.deepcopy(answer)
        while len(self._answers) > ANSWERS_KEPT:
            self._answers.popitem(last=False)
        return answer

    def call(
        self, method: str, path: str, body: Any, now: datetime, headers: Mapping[str, Any] | None = None
    ) -> tuple[int, Any]:
        """One REST call (no envelope): ``(status, payload)``."""
        parts = urlsplit(path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        for regex, methods in ROUTES:
            match = regex.match(parts.path)
            if match is None:
                continue
            handler = methods.get(method.upper())
            if handler is None:
                return 405, _error(parts.path, "method not allowed")
            request = Request(method.upper(), parts.path, query, headers or {}, body, _utc(now))
            try:
                return handler(self, request, match.groupdict())
            except BadRequest as refusal:
                return refusal.status, _error(parts.path, refusal.message, refusal.status)
        return 404, {"error": {"code": 404, "message": "page not found"}}

    def publications(self, now: datetime) -> list[tuple[str, bytes]]:
        """What the message groups publish now (``tags.publications``)."""
        return tags.publications(self.state, now)

    # ------------------------------------------------------------------ setup
    def add_mqtt_client(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /mqtt`` with ``config`` (raises ``BadRequest``); the new client."""
        _require_object(config, ("server", "port"))
        client = _merge(defaults.mqtt_client(), config)
        client["id"] = self._next_id("mqtt")
        mqtt = self.state["mqtt"]
        mqtt["clients"].append(client)
        mqtt["storeAndForward"][str(client["id"])] = defaults.store_and_forward()
        mqtt["messages"][str(client["id"])] = []
        return client

    def _next_id(self, kind: str) -> int:
        counters = self.state.setdefault("nextId", {})
        counters[kind] = counters.get(kind, 0) + 1
        return int(counters[kind])

    def _refused(self, message: str) -> dict[str, Any]:
        payload = {"code": 400, "message": message}
        return {
            "request-id": -1,
            "payload": json.dumps(payload) if self.payload_as_string else payload,
            "state": 400,
        }


# ---------------------------------------------------------------------- helpers
def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _headers(raw: Any) -> dict[str, Any] | None:
    """Moxa's headers are a list of one-key objects; an object is taken as well."""
    if isinstance(raw, dict):
        return dict(raw)
    if not isinstance(raw, list):
        return None
    merged: dict[str, Any] = {}
    for item in raw:
        if not isinstance(item, dict):
            return None
        merged.update(item)
    return merged


def _expired_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.strptime(raw, EXPIRED_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _error(path: str, message: str, code: int = 400) -> dict[str, Any]:
    if path.startswith("/azure-iotedge"):
        return {"error": message}
    return {"error": {"code": code, "message": message}}


def _require_object(body: Any, required: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    missing = [name for name in required if name not in body]
    if missing:
        raise BadRequest(f"missing required field(s): {', '.join(missing)}")
    return body


def _same_type(current: Any, value: Any) -> bool:
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if isinstance(current, int | float):
        return isinstance(value, int | float) and (isinstance(value, int) or not isinstance(current, int))
    return type(current) is type(value) or current is None


def _merge(current: Mapping[str, Any], patch: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """``patch`` merged into a copy of ``current``; each field keeps its type (else ``BadRequest``)."""
    merged = copy.deepcopy(dict(current))
    for key, value in patch.items():
        name = f"{where}.{key}" if where else key
        if key in READ_ONLY:
            continue
        allowed = ENUMS.get(name) or (ENUMS.get(key) if key not in ("mode",) else None)
        if allowed is not None and value not in allowed:
            raise BadRequest(f"{name} must be one of {sorted(allowed)}")
        if key in merged and merged[key] is not None:
            if not _same_type(merged[key], value):
                raise BadRequest(f"{name} has the wrong type")
            if isinstance(value, dict):
                merged[key] = _merge(merged[key], value, key)
                continue
        merged[key] = copy.deepcopy(value)
    return merged


def _find(items: list[dict[str, Any]], raw_id: str) -> dict[str, Any] | None:
    return next((item for item in items if str(item.get("id")) == raw_id), None)


def _properties(body: Any) -> dict[str, Any]:
    """A DeviceProperties body: ``{origin: {resource: [{source?, reportedPath, desiredPath}]}}``."""
    body = _require_object(body)
    for origin, resources in body.items():
        if not isinstance(resources, dict):
            raise BadRequest(f"{origin} must be an object of resources")
        for resource, mappings in resources.items():
            if not isinstance(mappings, list) or not all(
                isinstance(m, dict)
                and isinstance(m.get("reportedPath"), str)
                and isinstance(m.get("desiredPath"), str)
                and isinstance(m.get("source", ""), str)
                for m in mappings
            ):
                raise BadRequest(f"{origin}.{resource} must be a list of {{reportedPath, desiredPath}}")
    return copy.deepcopy(body)


def _strings(body: Any) -> list[str]:
    if not isinstance(body, list) or not all(isinstance(item, str) for item in body):
        raise BadRequest("request body must be a JSON array of strings")
    return list(body)


def _message_group(body: Any, current: dict[str, Any] | None, sparkplug: bool) -> dict[str, Any]:
    required = ("enable", "tags", "sendOutThreshold") + (() if sparkplug else ("outputTopic",))
    body = _require_object(body, required if current is None else ())
    base = current if current is not None else defaults.message_group(sparkplug)
    group = _merge(base, body)
    selection = group["tags"]
    if not all(
        isinstance(sources, dict)
        and all(
            isinstance(names, list) and all(isinstance(n, str) for n in names) for names in sources.values()
        )
        for sources in selection.values()
    ):
        raise BadRequest("tags must be {moduleName: {sourceName: [tagName]}}")
    if not sparkplug and not group["outputTopic"]:
        raise BadRequest("outputTopic must not be empty")
    return group


# ---------------------------------------------------------------------- message groups (four services)
def _message_routes(
    prefix: str, holder: Callable[[Gateway, dict[str, str]], list[dict[str, Any]]], missing_status: int = 404
) -> None:
    """GET/POST ``prefix/messages``, GET/PUT/DELETE ``prefix/messages/{group_id}``, PUT ``…/test``."""
    kind = prefix.strip("/").split("/")[0] + "-messages"

    def listing(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        return 200, copy.deepcopy(holder(gw, params))

    def create(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        groups = holder(gw, params)
        group = _message_group(request.body, None, sparkplug=False)
        group["id"] = gw._next_id(kind)
        groups.append(group)
        return 200, copy.deepcopy(groups)

    def one(gw: Gateway, request: Request, params: dict[str, str]) -> dict[str, Any]:
        group = _find(holder(gw, params), params["group_id"])
        if group is None:
            raise BadRequest(f"message group {params['group_id']} not found", missing_status)
        return group

    def read(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        return 200, {"data": copy.deepcopy(one(gw, request, params))}

    def update(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        group = one(gw, request, params)
        updated = _message_group(request.body, group, sparkplug=False)
        group.clear()
        group.update(updated)
        return 200, {"data": copy.deepcopy(group)}

    def delete(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        groups = holder(gw, params)
        groups.remove(one(gw, request, params))
        return 200, copy.deepcopy(groups)

    def test(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        holder(gw, params)  # the client must exist
        body = _require_object(request.body)
        expression, test_tags = body.get("format", ""), body.get("tags", [])
        if not isinstance(expression, str) or not isinstance(test_tags, list):
            raise BadRequest("format must be a string and tags a list")
        records = []
        for item in test_tags:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("srcName"), str)
                or not isinstance(item.get("tagName"), str)
            ):
                raise BadRequest("each tag needs srcName and tagName")
            records.append(tags.record(gw.state, "test", item["srcName"], item["tagName"], request.now))
        if not expression:
            return 200, {"data": tags.default_format(records)}
        if not tags.jq_available():
            return 200, {"data": {}, "error": "jq filters cannot be evaluated by this simulator"}
        try:
            return 200, {"data": tags.custom_format(expression, records)}
        except (ValueError, RuntimeError) as failure:
            return 200, {"data": {}, "error": str(failure)}

    route(f"{prefix}/messages", "GET")(listing)
    route(f"{prefix}/messages", "POST")(create)
    route(f"{prefix}/messages/test", "PUT")(test)
    route(f"{prefix}/messages/{{group_id}}", "GET")(read)
    route(f"{prefix}/messages/{{group_id}}", "PUT")(update)
    route(f"{prefix}/messages/{{group_id}}", "DELETE")(delete)


def _properties_routes(prefix: str, service: str, key: str) -> None:
    """GET/PUT ``prefix/properties``, PUT ``prefix/reported`` and ``prefix/clear``."""

    def read(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        return 200, {"data": copy.deepcopy(gw.state[service][key])}

    def write(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        gw.state[service][key] = _properties(request.body)
        return 200, {"data": copy.deepcopy(gw.state[service][key])}

    def reported(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        return 200, {"data": "ok"}

    def clear(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        _strings(request.body)
        return 200, {"data": "ok"}

    route(f"{prefix}/properties", "GET")(read)
    route(f"{prefix}/properties", "PUT")(write)
    route(f"{prefix}/reported", "PUT")(reported)
    route(f"{prefix}/clear", "PUT")(clear)


def _store_and_forward_routes(
    prefix: str,
    holder: Callable[[Gateway, dict[str, str]], dict[str, Any]],
    store: Callable[[Gateway, dict[str, str], dict[str, Any]], None],
) -> None:
    def read(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        return 200, {"data": copy.deepcopy(holder(gw, params))}

    def write(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        updated = _merge(holder(gw, params), _require_object(request.body))
        store(gw, params, updated)
        return 200, {"data": copy.deepcopy(updated)}

    route(f"{prefix}/store-and-forward", "GET")(read)
    route(f"{prefix}/store-and-forward", "PUT")(write)


def _check_route(prefix: str, name: str, enabled: Callable[[Gateway], bool]) -> None:
    def check(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        verdict = "enabled, connection simulated: OK" if enabled(gw) else "disabled: nothing to check"
        return 200, {"data": f"check {name} at {request.now.strftime(EXPIRED_TIME_FORMAT)} UTC: {verdict}"}

    route(f"{prefix}/check", "PUT")(check)


def _runtime(enabled: bool) -> dict[str, Any]:
    return {
        "status": "OK" if enabled else "Disable",
        "connectionStatus": "Connected" if enabled else "Disconnected",
        "lastD2CUploadStatus": "--",
        "lastD2CUploadTime": "",
        "lastConnectFailTime": "",
        "lastConnectedTime": "",
    }


# ---------------------------------------------------------------------- northbound
def _services(gw: Gateway) -> list[dict[str, Any]]:
    state = gw.state
    enabled = {
        "azure-device": bool(state["azure-device"]["config"]["provisioning"]["enable"]),
        "aws": bool(state["aws"]["config"]["provisioning"]["enable"]),
        "azure-iotedge": bool(state["azure-iotedge"]["config"]["provisioning"]["enable"]),
        "mqtt": any(client.get("enable") for client in state["mqtt"]["clients"]),
        "sparkplug": bool(state["sparkplug"]["config"]["enable"]),
    }
    names = {
        "azure-device": "Azure IoT Device",
        "aws": "AWS IoT Core",
        "azure-iotedge": "Azure IoT Edge",
        "mqtt": "Generic MQTT Client",
        "sparkplug": "Sparkplug",
    }
    return [
        {
            "name": name,
            "displayName": names[name],
            "path": f"/api/v1/{name}",
            "enable": on,
            "status": "OK" if on else "Disable",
        }
        for name, on in enabled.items()
    ]


@route("/remotectl/services", "GET")
def _get_services(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    return 200, {"data": _services(gw)}


# ---------------------------------------------------------------------- mqtt
def _mqtt_client(gw: Gateway, raw_id: str) -> dict[str, Any]:
    client = _find(gw.state["mqtt"]["clients"], raw_id)
    if client is None:
        raise BadRequest(f"mqtt client {raw_id} not found", 404)
    return client


@route("/mqtt", "GET")
def _get_mqtt(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    return 200, {"data": copy.deepcopy(gw.state["mqtt"]["clients"])}


@route("/mqtt", "POST")
def _post_mqtt(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    gw.add_mqtt_client(_require_object(request.body))
    return 200, {"data": copy.deepcopy(gw.state["mqtt"]["clients"])}


@route("/mqtt/monitor", "GET")
def _get_mqtt_monitor(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    clients = gw.state["mqtt"]["clients"]
    rows = [{"name": f"{c['server']}:{c['port']}", **_runtime(bool(c.get("enable")))} for c in clients]
    for row in rows:
        del row["status"]
    on = any(c.get("enable") for c in clients)
    return 200, {"data": {"status": "OK" if on else "Disable", "clients": rows}}


_check_route("/mqtt", "mqtt", lambda gw: any(c.get("enable") for c in gw.state["mqtt"]["clients"]))


@route("/mqtt/{id}", "PUT")
def _put_mqtt_client(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    client = _mqtt_client(gw, params["id"])
    updated = _merge(client, _require_object(request.body))
    client.clear()
    client.update(updated)
    return 200, {"data": copy.deepcopy(client)}


@route("/mqtt/{id}", "DELETE")
def _delete_mqtt_client(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    mqtt = gw.state["mqtt"]
    client = _mqtt_client(gw, params["id"])
    mqtt["clients"].remove(client)
    mqtt["storeAndForward"].pop(str(client["id"]), None)
    mqtt["messages"].pop(str(client["id"]), None)
    return 200, {"data": copy.deepcopy(mqtt["clients"])}


@route("/mqtt/{id}/certificates", "DELETE")
def _delete_mqtt_certificates(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    client = _mqtt_client(gw, params["id"])
    client["certificate"] = {"rootCaCertFile": "", "caCertFile": "", "caPkFile": ""}
    return 200, {"data": copy.deepcopy(client)}


def _mqtt_key(gw: Gateway, params: dict[str, str]) -> str:
    return str(_mqtt_client(gw, params["id"])["id"])


def _mqtt_saf_store(gw: Gateway, params: dict[str, str], value: dict[str, Any]) -> None:
    gw.state["mqtt"]["storeAndForward"][_mqtt_key(gw, params)] = value


_store_and_forward_routes(
    "/mqtt/{id}", lambda gw, p: gw.state["mqtt"]["storeAndForward"][_mqtt_key(gw, p)], _mqtt_saf_store
)
_message_routes("/mqtt/{id}", lambda gw, p: gw.state["mqtt"]["messages"][_mqtt_key(gw, p)])


# ---------------------------------------------------------------------- azure-device and aws
def _provisioning_routes(prefix: str, service: str, properties: str) -> None:
    def read(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        return 200, {"data": copy.deepcopy(_with_status(gw.state[service]["config"]))}

    def write(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        config = _merge(gw.state[service]["config"], _require_object(request.body))
        protocol = config["provisioning"].get("protocol")
        if isinstance(protocol, dict):
            if protocol.get("protocol") not in defaults.AZURE_PROTOCOL_PORTS:
                raise BadRequest(f"protocol must be one of {sorted(defaults.AZURE_PROTOCOL_PORTS)}")
            protocol["port"] = defaults.AZURE_PROTOCOL_PORTS[protocol["protocol"]]
        gw.state[service]["config"] = config
        return 200, {"data": copy.deepcopy(_with_status(config))}

    def monitor(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        return 200, {"data": _runtime(bool(gw.state[service]["config"]["provisioning"]["enable"]))}

    route(prefix, "GET")(read)
    route(prefix, "PUT")(write)
    route(f"{prefix}/monitor", "GET")(monitor)
    _check_route(prefix, service, lambda gw: bool(gw.state[service]["config"]["provisioning"]["enable"]))
    _properties_routes(f"{prefix}/{properties}", service, properties)

    def saf_store(gw: Gateway, params: dict[str, str], value: dict[str, Any]) -> None:
        gw.state[service]["storeAndForward"] = value

    _store_and_forward_routes(prefix, lambda gw, p: gw.state[service]["storeAndForward"], saf_store)
    _message_routes(prefix, lambda gw, p: gw.state[service]["messages"])


def _with_status(config: dict[str, Any]) -> dict[str, Any]:
    config["status"] = "connected" if config["provisioning"].get("enable") else "disconnect"
    return config


_provisioning_routes("/azure-device", "azure-device", "twin")
_provisioning_routes("/aws", "aws", "shadow")


@route("/azure-device", "POST")
def _post_azure_device(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    body = _require_object(request.body, ("connectionString",))
    files = {name: body.get(name, "") for name in ("caCertFile", "caPkFile", "rootCaCertFile")}
    if not all(isinstance(value, str) for value in [*files.values(), body["connectionString"]]):
        raise BadRequest("certificate files and connectionString must be strings")
    config = gw.state["azure-device"]["config"]
    provisioning = config["provisioning"]
    provisioning.update(
        authenticationType="x509",
        connectionString=body["connectionString"],
        certificate={"caCertFile": files["caCertFile"], "caPkFile": files["caPkFile"]},
        rootCaCertFile=files["rootCaCertFile"],
    )
    protocol = body.get("protocol", provisioning["protocol"]["protocol"])
    if protocol not in defaults.AZURE_PROTOCOL_PORTS:
        raise BadRequest(f"protocol must be one of {sorted(defaults.AZURE_PROTOCOL_PORTS)}")
    provisioning["protocol"].update(protocol=protocol, port=defaults.AZURE_PROTOCOL_PORTS[protocol])
    return 200, {"data": copy.deepcopy(_with_status(config))}


# ---------------------------------------------------------------------- azure-iotedge
def _iotedge(gw: Gateway, now: datetime) -> dict[str, Any]:
    edge = gw.state["azure-iotedge"]
    config: dict[str, Any] = edge["config"]
    until = edge.get("resetUntil") or ""
    if until and datetime.fromisoformat(until) <= now:
        config["iotedge"]["status"] = "running"
        edge["resetUntil"] = ""
    return config


@route("/azure-iotedge", "GET")
def _get_iotedge(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    return 200, {"data": copy.deepcopy(_iotedge(gw, request.now))}


@route("/azure-iotedge", "PATCH")
def _patch_iotedge(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    config = _merge(_iotedge(gw, request.now), _require_object(request.body))
    provisioning = config["provisioning"]
    if provisioning.get("source") == "dps":
        needed = DPS_FIELDS
        missing = [name for name in needed[provisioning["method"]] if not provisioning.get(name)]
        if missing:
            raise BadRequest(f"dps {provisioning['method']} needs {', '.join(missing)}")
    gw.state["azure-iotedge"]["config"] = config
    return 200, {"data": copy.deepcopy(config)}


@route("/azure-iotedge/reset", "PUT")
def _reset_iotedge(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    edge = gw.state["azure-iotedge"]
    config = defaults.azure_iotedge()
    config["iotedge"]["status"] = "resetting"
    config["iotedge"]["since"] = request.now.strftime(EXPIRED_TIME_FORMAT)
    edge["config"] = config
    edge["resetUntil"] = (request.now + timedelta(seconds=IOTEDGE_RESET_S)).isoformat()
    return 202, {"data": copy.deepcopy(config)}


@route("/azure-iotedge/restart", "PUT")
def _restart_iotedge(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    config = _iotedge(gw, request.now)
    if config["iotedge"]["status"] == "resetting":
        raise BadRequest("restart iotedge failed")
    config["iotedge"]["since"] = request.now.strftime(EXPIRED_TIME_FORMAT)
    return 200, {"data": copy.deepcopy(config)}


@route("/azure-iotedge/modules/{name}/restart", "PUT")
def _restart_module(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    modules = _iotedge(gw, request.now)["iotedge"]["modules"]
    if not any(module["name"] == params["name"] for module in modules):
        raise BadRequest(f"module {params['name']} not found")
    return 200, {"data": f"{params['name']} restart success"}


@route("/azure-iotedge/certificates", "POST")
def _post_iotedge_certificates(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    body = _require_object(request.body, ("caCertFile", "caPkFile", "trustedCaFile"))
    if not all(
        isinstance(body[name], str) and body[name] for name in ("caCertFile", "caPkFile", "trustedCaFile")
    ):
        raise BadRequest("caCertFile, caPkFile and trustedCaFile must be non-empty strings")
    config = _iotedge(gw, request.now)
    config["downstreamCerts"].update(
        mode="user",
        caCertFile=body["caCertFile"],
        caPkFile=body["caPkFile"],
        trustedCaFile=body["trustedCaFile"],
    )
    return 200, {"data": copy.deepcopy(config)}


_properties_routes("/azure-iotedge/twin", "azure-iotedge", "twin")
_message_routes("/azure-iotedge", lambda gw, p: gw.state["azure-iotedge"]["messages"], missing_status=400)


# ---------------------------------------------------------------------- sparkplug
def _sparkplug_config(gw: Gateway, event: bool) -> dict[str, Any]:
    sparkplug = gw.state["sparkplug"]
    config = copy.deepcopy(sparkplug["config"])
    brokers = copy.deepcopy(sparkplug["brokers"])
    if not event:
        for broker in brokers:
            broker.pop("status", None)
    config["brokerList"] = brokers
    return config


@route("/sparkplug", "GET")
def _get_sparkplug(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    return 200, {"data": _sparkplug_config(gw, request.query.get("event", "false").lower() == "true")}


def _check_sparkplug_config(config: Mapping[str, Any]) -> None:
    for name in ("nodeID", "groupID"):
        value = config.get(name)
        if not isinstance(value, str) or not value or SPARKPLUG_ID_FORBIDDEN.search(value):
            raise BadRequest(f"{name} must be a non-empty string without + / #")


@route("/sparkplug", "PUT")
def _put_sparkplug(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    body = {k: v for k, v in _require_object(request.body).items() if k != "brokerList"}
    config = _merge(gw.state["sparkplug"]["config"], body)
    _check_sparkplug_config(config)
    gw.state["sparkplug"]["config"] = config
    return 200, {"data": _sparkplug_config(gw, event=False)}


def _sparkplug_document(gw: Gateway) -> dict[str, Any]:
    sparkplug = gw.state["sparkplug"]
    return {
        key: copy.deepcopy(sparkplug[key])
        for key in ("config", "brokers", "node", "storeAndForward", "properties", "messages")
    }


@route("/sparkplug/configuration", "GET")
def _export_sparkplug(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(SPARKPLUG_ZIP_ENTRY, json.dumps(_sparkplug_document(gw), indent=1))
    return 200, {"data": base64.b64encode(buffer.getvalue()).decode()}


@route("/sparkplug/configuration", "PUT")
def _import_sparkplug(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    body = _require_object(request.body, ("file",))
    if not isinstance(body["file"], str):
        raise BadRequest("file must be a base64 string")
    try:
        raw = base64.b64decode(body["file"], validate=True)
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            document = json.loads(archive.read(SPARKPLUG_ZIP_ENTRY))
    except (binascii.Error, zipfile.BadZipFile, KeyError, ValueError) as failure:
        raise BadRequest(f"extract: invalid file or authentication failed ({failure})") from None
    keys = ("config", "brokers", "node", "storeAndForward", "properties", "messages")
    if not isinstance(document, dict) or any(key not in document for key in keys):
        raise BadRequest("extract: invalid file or authentication failed (not a Sparkplug configuration)")
    current = gw.state["sparkplug"]
    config = _merge(current["config"], _require_object(document["config"]))
    _check_sparkplug_config(config)
    node = _properties(document["node"])
    saf = _merge(current["storeAndForward"], _require_object(document["storeAndForward"]))
    brokers = _brokers_from(document["brokers"], gw)
    messages = document["messages"]
    if not isinstance(messages, dict) or set(messages) != {"node", "device"}:
        raise BadRequest("extract: invalid file or authentication failed (messages)")
    groups = {
        kind: [
            {**_message_group(g, None, sparkplug=True), "id": g.get("id", 0)} for g in _list(messages[kind])
        ]
        for kind in ("node", "device")
    }
    current.update(
        config=config,
        brokers=brokers,
        node=node,
        storeAndForward=saf,
        properties=_selections(document["properties"]),
        messages=groups,
    )
    name = body.get("filename", "configuration.zip")
    return 200, {"data": {"filename": str(name), "filesize": len(raw)}}


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise BadRequest("expected a JSON array")
    return value


def _broker(body: Any, current: dict[str, Any] | None) -> dict[str, Any]:
    body = _require_object(body, ("server", "port") if current is None else ())
    return _merge(current if current is not None else defaults.sparkplug_broker(), body)


def _brokers_from(body: Any, gw: Gateway) -> list[dict[str, Any]]:
    brokers = []
    for item in _list(body):
        broker = _broker(item, None)
        broker["id"] = gw._next_id("sparkplug-brokers")
        brokers.append(broker)
    return brokers


@route("/sparkplug/brokers", "GET")
def _get_brokers(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    return 200, {"data": copy.deepcopy(gw.state["sparkplug"]["brokers"])}


@route("/sparkplug/brokers", "PUT")
def _put_brokers(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    gw.state["sparkplug"]["brokers"] = _brokers_from(request.body, gw)
    return 200, {"data": copy.deepcopy(gw.state["sparkplug"]["brokers"])}


@route("/sparkplug/brokers", "POST")
def _post_broker(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    broker = _broker(request.body, None)
    broker["id"] = gw._next_id("sparkplug-brokers")
    gw.state["sparkplug"]["brokers"].append(broker)
    return 200, {"data": copy.deepcopy(gw.state["sparkplug"]["brokers"])}


def _one_broker(gw: Gateway, raw_id: str) -> dict[str, Any]:
    broker = _find(gw.state["sparkplug"]["brokers"], raw_id)
    if broker is None:
        raise BadRequest(f"broker {raw_id} not found", 404)
    return broker


@route("/sparkplug/brokers/{id}", "PUT")
def _put_broker(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    broker = _one_broker(gw, params["id"])
    updated = _broker(request.body, broker)
    broker.clear()
    broker.update(updated)
    return 200, {"data": copy.deepcopy(broker)}


@route("/sparkplug/brokers/{id}", "DELETE")
def _delete_broker(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    gw.state["sparkplug"]["brokers"].remove(_one_broker(gw, params["id"]))
    return 200, {"data": copy.deepcopy(gw.state["sparkplug"]["brokers"])}


_properties_routes("/sparkplug/node", "sparkplug", "node")


def _sparkplug_saf_store(gw: Gateway, params: dict[str, str], value: dict[str, Any]) -> None:
    bulk = value.get("bulkUpload")
    if (
        not isinstance(bulk, dict)
        or not isinstance(bulk.get("enable"), bool)
        or not isinstance(bulk.get("size"), int)
    ):
        raise BadRequest("bulkUpload needs enable and size")
    gw.state["sparkplug"]["storeAndForward"] = value


_store_and_forward_routes(
    "/sparkplug", lambda gw, p: gw.state["sparkplug"]["storeAndForward"], _sparkplug_saf_store
)


def _selections(body: Any) -> dict[str, Any]:
    body = _require_object(body, ("selections",))
    if not isinstance(body["selections"], dict):
        raise BadRequest("selections must be an object")
    return {"selections": copy.deepcopy(body["selections"])}


@route("/sparkplug/properties", "GET")
def _get_sparkplug_properties(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    return 200, {"data": copy.deepcopy(gw.state["sparkplug"]["properties"])}


@route("/sparkplug/properties", "PUT")
def _put_sparkplug_properties(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    gw.state["sparkplug"]["properties"] = _selections(request.body)
    return 200, {"data": copy.deepcopy(gw.state["sparkplug"]["properties"])}


def _sparkplug_kind(request: Request, default: str | None) -> list[str]:
    kind = request.query.get("type", default)
    if kind is None:
        return ["node", "device"]
    if kind not in ("node", "device"):
        raise BadRequest("type must be node or device")
    return [kind]


def _all_sparkplug_groups(gw: Gateway) -> list[dict[str, Any]]:
    messages = gw.state["sparkplug"]["messages"]
    return [*messages["node"], *messages["device"]]


@route("/sparkplug/messages", "GET")
def _get_sparkplug_messages(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    messages = gw.state["sparkplug"]["messages"]
    return 200, copy.deepcopy([g for kind in _sparkplug_kind(request, None) for g in messages[kind]])


@route("/sparkplug/messages", "POST")
def _post_sparkplug_message(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    (kind,) = _sparkplug_kind(request, "device")
    group = _message_group(request.body, None, sparkplug=True)
    group["id"] = gw._next_id("sparkplug-messages")
    gw.state["sparkplug"]["messages"][kind].append(group)
    return 200, copy.deepcopy(gw.state["sparkplug"]["messages"][kind])


def _sparkplug_group(gw: Gateway, raw_id: str) -> dict[str, Any]:
    group = _find(_all_sparkplug_groups(gw), raw_id)
    if group is None:
        raise BadRequest(f"message group {raw_id} not found", 404)
    return group


@route("/sparkplug/messages/{id}", "GET")
def _get_sparkplug_message(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    return 200, {"data": copy.deepcopy(_sparkplug_group(gw, params["id"]))}


@route("/sparkplug/messages/{id}", "PUT")
def _put_sparkplug_message(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    group = _sparkplug_group(gw, params["id"])
    updated = _message_group(request.body, group, sparkplug=True)
    group.clear()
    group.update(updated)
    return 200, {"data": copy.deepcopy(group)}


@route("/sparkplug/messages/{id}", "DELETE")
def _delete_sparkplug_message(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    group = _sparkplug_group(gw, params["id"])
    for groups in gw.state["sparkplug"]["messages"].values():
        if group in groups:
            groups.remove(group)
            return 200, copy.deepcopy(groups)
    raise BadRequest(f"message group {params['id']} not found", 404)  # pragma: no cover - found above


# ---------------------------------------------------------------------- beyond the cloud API
@route("/system/sshserver", "GET")
def _get_sshserver(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    return 200, {"data": copy.deepcopy(gw.state["system"]["sshserver"])}


@route("/system/sshserver", "PUT")
def _put_sshserver(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    updated = _merge(gw.state["system"]["sshserver"], _require_object(request.body))
    if not 1 <= updated["port"] <= 65535:
        raise BadRequest("port must be 1..65535")
    gw.state["system"]["sshserver"] = updated
    return 200, {"data": copy.deepcopy(updated)}


@route("/modbusmaster/operate/direct-write-tag", "PUT")
def _direct_write_tag(gw: Gateway, request: Request, params: dict[str, str]) -> tuple[int, Any]:
    body = _require_object(request.body, ("prvdName", "srcName", "tagName", "dataType", "dataValue"))
    names = [body[name] for name in ("prvdName", "srcName", "tagName", "dataType")]
    if not all(isinstance(name, str) and name for name in names):
        raise BadRequest("prvdName, srcName, tagName and dataType must be non-empty strings")
    prvd, src, tag, data_type = names
    values = gw.state.setdefault("tagValues", {})
    values.setdefault(prvd, {}).setdefault(src, {})[tag] = {
        "dataType": data_type,
        "dataValue": body["dataValue"],
    }
    return 200, {}
