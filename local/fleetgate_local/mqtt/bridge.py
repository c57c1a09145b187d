"""The AWS IoT data plane's ``Publish`` for the local stack's functions (``AWS_ENDPOINT_URL_IOT_DATA_PLANE``
points boto3's ``iot-data`` client here): the message goes to Mosquitto, QoS 1, with its MQTT 5
properties, then through the rules engine, as IoT Core runs rules on messages published over HTTPS.

``POST /topics/{topic}`` as botocore's ``iot-data`` model sends it: ``qos``, ``retain``,
``responseTopic``, ``contentType``, ``messageExpiry`` in the query; ``x-amz-mqtt5-user-properties``
(base64 of a JSON list of one-pair objects), ``x-amz-mqtt5-payload-format-indicator`` (``UTF8_DATA`` /
``UNSPECIFIED_BYTES``) and ``x-amz-mqtt5-correlation-data`` (base64) as headers; the body is the payload.
Answers as AWS does: 200 with an empty body; 400 ``InvalidRequestException`` for a bad topic or
parameter; 503 when the broker does not take the message. Every request is also forwarded to moto's
``iot-data`` (when there is one): a Publish is then recorded there as well, and the other operations
(shadows, retained messages; fleetgate calls none) are moto's answer. Signatures are not checked; the
principal of the message (``principal()``) is the access key the request was signed with.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleetgate_local.mqtt.sql import MessageContext

MAX_PAYLOAD = 128 * 1024  # AWS IoT Core's message size limit
PUBLISH_TIMEOUT_S = 5.0
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


class BadRequest(ValueError):
    pass


class DataPlane(ThreadingHTTPServer):
    """The ``iot-data`` endpoint; ``url`` once bound (port 0 picks a free one)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, log: Callable[[str], None], moto_url: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.log = log
        self.moto = urlsplit(moto_url).netloc if moto_url else None  # host:port of moto's server
        self.client: paho.Client | None = None  # the broker connection (the bridge's dynsec client)
        self.tap: Callable[[MessageContext], None] | None = None  # the rules engine
        self._serving: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self, client: paho.Client, tap: Callable[[MessageContext], None]) -> DataPlane:
        self.client, self.tap = client, tap
        self._serving = threading.Thread(target=self.serve_forever, name="iot-data", daemon=True)
        self._serving.start()
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self.shutdown()
            self._serving = None
        self.server_close()
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None


def parse_publish(path: str, headers: Any, body: bytes) -> dict[str, Any]:
    """The Publish request's fields (``BadRequest`` for what AWS refuses)."""
    parts = urlsplit(path)
    if not parts.path.startswith("/topics/") or len(parts.path) == len("/topics/"):
        raise LookupError(parts.path)
    topic = unquote(parts.path[len("/topics/") :])
    if "+" in topic or "#" in topic or len(topic.encode()) > 256:
        raise BadRequest("topic must be a topic name of at most 256 bytes, without wildcards")
    query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    qos = query.get("qos", "0")
    if qos not in ("0", "1"):
        raise BadRequest("qos must be 0 or 1")
    if len(body) > MAX_PAYLOAD:
        raise BadRequest(f"payload over {MAX_PAYLOAD} bytes")
    fields: dict[str, Any] = {
        "topic": topic,
        "qos": int(qos),
        "retain": query.get("retain", "false").lower() == "true",
        "payload": body,
        "response_topic": query.get("responseTopic") or None,
        "content_type": query.get("contentType") or None,
        "message_expiry": None,
        "correlation_data": None,
        "payload_format": None,
        "user_properties": (),
    }
    if fields["response_topic"] and ("+" in fields["response_topic"] or "#" in fields["response_topic"]):
        raise BadRequest("responseTopic must not hold wildcards")
    if "messageExpiry" in query:
        try:
            fields["message_expiry"] = int(query["messageExpiry"])
        except ValueError:
            raise BadRequest("messageExpiry must be an integer") from None
    try:
        if correlation := headers.get("x-amz-mqtt5-correlation-data"):
            fields["correlation_data"] = base64.b64decode(correlation, validate=True)
        if properties := headers.get("x-amz-mqtt5-user-properties"):
            fields["user_properties"] = _user_properties(
                json.loads(base64.b64decode(properties, validate=True))
            )
    except (binascii.Error, ValueError):
        raise BadRequest("MQTT 5 headers must be base64 (user properties: of a JSON list)") from None
    indicator = headers.get("x-amz-mqtt5-payload-format-indicator")
    if indicator is not None:
        if indicator not in ("UTF8_DATA", "UNSPECIFIED_BYTES"):
            raise BadRequest("payloadFormatIndicator must be UTF8_DATA or UNSPECIFIED_BYTES")
        fields["payload_format"] = 1 if indicator == "UTF8_DATA" else 0
    return fields


def _user_properties(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise ValueError("user properties must be a list")
    pairs: list[tuple[str, str]] = []
    for item in value:
        if not isinstance(item, dict):
            raise ValueError("user properties are objects")
        items = [(item["key"], item["value"])] if set(item) == {"key", "value"} else list(item.items())
        pairs.extend((str(k), str(v)) for k, v in items)
    return tuple(pairs)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fleetgate-local-iot-data"

    def do_POST(self) -> None:
        server = cast(DataPlane, self.server)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            fields = parse_publish(self.path, self.headers, body)
        except LookupError:
            return self._forward(server, body)
        except BadRequest as error:
            return self._error(400, "InvalidRequestException", str(error))
        if not self._publish(server, fields):
            return self._error(503, "ServiceUnavailableException", "The broker did not take the message")
        self._record(server, body)
        credential = _CREDENTIAL.search(self.headers.get("Authorization", ""))
        assert server.tap is not None
        server.tap(
            MessageContext(
                topic=fields["topic"],
                payload=fields["payload"],
                principal=credential.group(1) if credential else None,
                timestamp_ms=int(time.time() * 1000),
                user_properties=fields["user_properties"],
                response_topic=fields["response_topic"],
                correlation_data=fields["correlation_data"],
                content_type=fields["content_type"],
                payload_format=fields["payload_format"],
            )
        )
        self._answer(200, b"")
        return None

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._forward(cast(DataPlane, self.server), self.rfile.read(length) if length else b"")

    def _moto(self, server: DataPlane, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        assert server.moto is not None
        connection = http.client.HTTPConnection(server.moto, timeout=10)
        try:
            skip = {"host", "content-length", "connection"}
            headers = {name: value for name, value in self.headers.items() if name.lower() not in skip}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _record(self, server: DataPlane, body: bytes) -> None:
        """The Publish in moto's data plane too (what tests read back); a failure there changes nothing."""
        if server.moto is not None:
            with contextlib.suppress(OSError, http.client.HTTPException):
                self._moto(server, body)

    def _forward(self, server: DataPlane, body: bytes) -> None:
        if server.moto is None:
            return self._error(404, "ResourceNotFoundException", "No such operation in the local data plane")
        try:
            status, headers, answer = self._moto(server, body)
        except (OSError, http.client.HTTPException):
            return self._error(503, "ServiceUnavailableException", "moto did not answer")
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        return None

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _publish(self, server: DataPlane, fields: dict[str, Any]) -> bool:
        if server.client is None:
            return False
        properties = Properties(PacketTypes.PUBLISH)
        if fields["response_topic"]:
            properties.ResponseTopic = fields["response_topic"]
        if fields["correlation_data"] is not None:
            properties.CorrelationData = fields["correlation_data"]
        if fields["content_type"]:
            properties.ContentType = fields["content_type"]
        if fields["message_expiry"] is not None:
            properties.MessageExpiryInterval = fields["message_expiry"]
        if fields["payload_format"] is not None:
            properties.PayloadFormatIndicator = fields["payload_format"]
        if fields["user_properties"]:
            properties.UserProperty = list(fields["user_properties"])
        info = server.client.publish(
            fields["topic"],
            fields["payload"],
            qos=fields["qos"],
            retain=fields["retain"],
            properties=properties,
        )
        try:
            info.wait_for_publish(PUBLISH_TIMEOUT_S)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def _error(self, status: int, kind: str, message: str) -> None:
        self._answer(status, json.dumps({"message": message}).encode(), kind)

    def _answer(self, status: int, body: bytes, error_type: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the functions log their publishes; the topic may name a device."""
