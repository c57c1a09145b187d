"""The local stack's AWS IoT Core at CONNECT: a TCP listener in front of Mosquitto that runs the
template's default custom authorizer, applies the policy it answers and taps what devices publish.

For each connection:

1. The first packet must be a CONNECT (MQTT 3.1, 3.1.1 or 5; else the connection is closed). Its
   username, password (base64, as IoT Core sends it) and client id go to the authorizer function (the
   DomainConfiguration's ``DefaultAuthorizerName`` -> ``AWS::IoT::Authorizer`` -> its function), run by
   the same worker pools and environment as the HTTP gateway's functions.
2. Denied: CONNACK 0x86 (MQTT 5) / return code 4 (3.1.1), and the connection is closed. An authorizer
   that fails or answers something IoT Core would not take: 0x88 / 3 (server unavailable). Allowed, but
   the policy lets this client id not connect (``iot:Connect`` on ``client/<id>``): 0x87 / 5.
3. Allowed: the policy documents become a dynsec role of literal ACLs (``fleetgate_local.mqtt.policy``)
   and the device a dynsec client (its username and password as presented), then the CONNECT goes to
   Mosquitto and both directions are piped. Mosquitto enforces the ACLs.
4. Every PUBLISH from the device is framed and read (topic, QoS, MQTT 5 properties, topic aliases) and
   still forwarded; one the policy allows goes to the rules engine with ``clientid()`` and
   ``principal()`` (the authorizer's ``principalId``). One the policy forbids reaches neither the rules
   nor, since Mosquitto drops it, any subscriber.
5. Lifecycle events, as IoT Core publishes them: once a connection is admitted, a message on
   ``$aws/events/presence/connected/<clientId>``; when it ends, one on ``…/disconnected/<clientId>``
   with ``clientInitiatedDisconnect`` and ``disconnectReason`` (``CLIENT_INITIATED_DISCONNECT`` after a
   DISCONNECT packet, ``SERVER_INITIATED_DISCONNECT`` when the stack stops, ``CONNECTION_LOST``
   otherwise). Both carry the connection's ``versionNumber`` (one more per connect of a client id), so
   a reader can order them as it must on AWS, where they may arrive out of order or twice. They go to
   the rules engine only (IoT Core does not deliver them to the publisher either).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleetgate_local.mqtt import packets
from fleetgate_local.mqtt.broker import Dynsec
from fleetgate_local.mqtt.packets import MalformedPacket, Packet
from fleetgate_local.mqtt.policy import Policy, PolicyError
from fleetgate_local.mqtt.sql import MessageContext, topic_matches

CONNECT_TIMEOUT_S = 10.0  # a connection must send its CONNECT within this
_PRINCIPAL = re.compile(r"[a-zA-Z0-9]{1,128}\Z")
Authorize = Callable[[dict[str, Any]], Any]  # the authorizer function's invocation; raises on failure


@dataclass(frozen=True)
class Admission:
    policy: Policy
    principal: str


def authorizer_event(connect: packets.Connect, server_name: str) -> dict[str, Any]:
    """What IoT Core sends a custom authorizer for this CONNECT."""
    mqtt: dict[str, Any] = {}
    if connect.username is not None:
        mqtt["username"] = connect.username
    if connect.password is not None:
        mqtt["password"] = base64.b64encode(connect.password).decode()
    if connect.client_id:
        mqtt["clientId"] = connect.client_id
    return {
        "token": None,
        "signatureVerified": False,
        "protocols": ["mqtt"],
        "protocolData": {"tls": {"serverName": server_name}, "mqtt": mqtt},
        "connectionMetadata": {"id": str(uuid.uuid4())},
    }


def admission(answer: Any) -> Admission | None:
    """The policy of an authorizer's answer that allows; None for a denial. ``PolicyError`` for an
    answer IoT Core would refuse (no boolean ``isAuthenticated``, a bad ``principalId``, over 10 policy
    documents or one over 2,048 characters)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("isAuthenticated"), bool):
        raise PolicyError("the authorizer's answer has no boolean isAuthenticated")
    if not answer["isAuthenticated"]:
        return None
    principal, documents = answer.get("principalId"), answer.get("policyDocuments")
    if not isinstance(principal, str) or not _PRINCIPAL.match(principal):
        raise PolicyError("principalId must match [a-zA-Z0-9]{1,128}")
    if not isinstance(documents, list) or len(documents) > 10:
        raise PolicyError("policyDocuments must be a list of at most 10 documents")
    if any(not isinstance(d, str) or len(d) > 2048 for d in documents):
        raise PolicyError("each policy document is JSON text of at most 2,048 characters")
    return Admission(Policy.parse(documents), principal)


def acl_allows(acls: list[dict[str, Any]], acltype: str, topic: str) -> bool:
    """dynsec's answer for a PUBLISH: the highest-priority matching ACL decides; none denies."""
    matching = [a for a in acls if a["acltype"] == acltype and topic_matches(a["topic"], topic)]
    return bool(matching) and max(matching, key=lambda a: a["priority"])["allow"]


class MqttFront(socketserver.ThreadingTCPServer):
    """The listener devices connect to; ``stop`` closes it and every connection."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        *,
        broker_port: int,
        dynsec: Dynsec,
        authorize: Authorize,
        tap: Callable[[MessageContext], None],
        arn_prefix: str,
        server_name: str,
        log: Callable[[str], None],
        listener: socket.socket | None = None,
    ) -> None:
        # ``listener``: a socket already bound and listening (its port known before the start); it
        # replaces binding ``address``.
        super().__init__(address, _Connection, bind_and_activate=listener is None)
        if listener is not None:
            self.socket.close()
            self.socket = listener
            self.server_address = listener.getsockname()
        self.broker_port = broker_port
        self.dynsec = dynsec
        self.authorize = authorize
        self.tap = tap
        self.arn_prefix = arn_prefix  # arn:aws:iot:<region>:<account>:
        self.server_name = server_name
        self.log = log
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}
        self._stopping = False
        self._serving: threading.Thread | None = None

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def start(self) -> MqttFront:
        self._serving = threading.Thread(target=self.serve_forever, name="mqtt-front", daemon=True)
        self._serving.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        if self._serving is not None:
            self.shutdown()
            self._serving = None
        self.server_close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def next_version(self, client_id: str) -> int:
        with self._lock:
            self._versions[client_id] = version = self._versions.get(client_id, 0) + 1
        return version

    def presence(self, event: str, client_id: str, fields: dict[str, Any]) -> None:
        """Publish one lifecycle event to the rules engine, as IoT Core does."""
        if "+" in client_id or "#" in client_id:
            return  # IoT Core sends none for such client ids
        now = int(time.time() * 1000)
        body = {"clientId": client_id, "timestamp": now, "eventType": event, **fields}
        self.tap(
            MessageContext(
                topic=f"$aws/events/presence/{event}/{client_id}",
                payload=json.dumps(body).encode(),
                timestamp_ms=now,
            )
        )

    @property
    def stopping(self) -> bool:
        return self._stopping

    def forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.close()


class _Connection(socketserver.BaseRequestHandler):
    server: MqttFront
    request: socket.socket

    def handle(self) -> None:
        front, device = self.server, self.request
        front.track(device)
        upstream: socket.socket | None = None
        session: dict[str, Any] | None = None
        said_goodbye = False
        try:
            device.settimeout(CONNECT_TIMEOUT_S)
            first = packets.read_packet(device.recv)
            if first is None:
                return
            connect = packets.parse_connect(first)
            device.settimeout(None)
            admitted = self._admit(connect)
            if admitted is None:
                return
            upstream = socket.create_connection(("127.0.0.1", front.broker_port), timeout=5)
            upstream.settimeout(None)
            front.track(upstream)
            upstream.sendall(first.raw)
            threading.Thread(target=self._pipe, args=(upstream, device), daemon=True).start()
            session = {
                "sessionIdentifier": str(uuid.uuid4()),
                "principalIdentifier": admitted[0].principal,
                "ipAddress": self.client_address[0],
                "versionNumber": front.next_version(connect.client_id),
            }
            front.presence("connected", connect.client_id, session)
            said_goodbye = self._tap_forever(connect, admitted, upstream)
        except (MalformedPacket, OSError) as error:
            front.log(f"mqtt: connection closed: {error}")
        finally:
            if session is not None:
                reason = (
                    "CLIENT_INITIATED_DISCONNECT"
                    if said_goodbye
                    else "SERVER_INITIATED_DISCONNECT"
                    if front.stopping
                    else "CONNECTION_LOST"
                )
                front.presence(
                    "disconnected",
                    connect.client_id,
                    {**session, "clientInitiatedDisconnect": said_goodbye, "disconnectReason": reason},
                )
            for sock in (device, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    front.forget(sock)

    def _admit(self, connect: packets.Connect) -> tuple[Admission, list[dict[str, Any]]] | None:
        front, level = self.server, connect.protocol_level
        started = time.monotonic()
        try:
            answer = front.authorize(authorizer_event(connect, front.server_name))
            admitted = admission(answer)
        except Exception as error:  # noqa: BLE001 - a failing authorizer refuses the connection
            front.log(f"mqtt: CONNECT {connect.client_id!r}: authorizer failed: {error}")
            self.request.sendall(packets.connack(level, packets.UNAVAILABLE[level]))
            return None
        elapsed = (time.monotonic() - started) * 1000
        if admitted is None:
            front.log(f"mqtt: CONNECT {connect.client_id!r} denied by the authorizer ({elapsed:.0f} ms)")
            self.request.sendall(packets.connack(level, packets.BAD_CREDENTIALS[level]))
            return None
        client = f"{front.arn_prefix}client/{connect.client_id}"
        if not connect.client_id or not admitted.policy.allows("iot:Connect", client):
            front.log(f"mqtt: CONNECT {connect.client_id!r}: the policy allows no iot:Connect for it")
            self.request.sendall(packets.connack(level, packets.NOT_AUTHORIZED[level]))
            return None
        acls = admitted.policy.acls(front.arn_prefix)
        assert connect.username is not None and connect.password is not None  # the authorizer needs both
        front.dynsec.install_device(
            connect.username, connect.password.decode("utf-8", "replace"), f"p-{admitted.principal}", acls
        )
        front.log(f"mqtt: CONNECT {connect.client_id!r} allowed ({elapsed:.0f} ms, {len(acls)} ACLs)")
        return admitted, acls

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        """Broker -> device, bytes as they come; either side closing ends both."""
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _tap_forever(
        self,
        connect: packets.Connect,
        admitted: tuple[Admission, list[dict[str, Any]]],
        upstream: socket.socket,
    ) -> bool:
        """Device -> broker, packet by packet: forwarded, and each allowed PUBLISH tapped. True when
        the device ended with a DISCONNECT packet."""
        _front, device = self.server, self.request
        admission_, acls = admitted
        aliases: dict[int, str] = {}
        while (packet := packets.read_packet(device.recv)) is not None:
            upstream.sendall(packet.raw)
            if packet.kind == packets.PUBLISH:
                self._tap(packet, connect, admission_, acls, aliases)
            elif packet.kind == packets.DISCONNECT:
                return True
        return False

    def _tap(
        self,
        packet: Packet,
        connect: packets.Connect,
        admitted: Admission,
        acls: list[dict[str, Any]],
        aliases: dict[int, str],
    ) -> None:
        front = self.server
        publish = packets.parse_publish(packet, connect.protocol_level)
        topic = publish.topic
        alias = publish.properties.get(packets.TOPIC_ALIAS)
        if alias is not None:
            if topic:
                aliases[alias] = topic
            else:
                topic = aliases.get(alias, "")
        resource = f"{front.arn_prefix}topic/{topic}"
        if not topic or not admitted.policy.allows("iot:Publish", resource):
            front.log(f"mqtt: PUBLISH by {connect.client_id!r} to a topic its policy forbids: not run")
            return
        if not acl_allows(acls, "publishClientSend", topic):
            front.log(f"mqtt: PUBLISH by {connect.client_id!r}: no ACL translates its policy here: not run")
            return
        properties = publish.properties
        front.tap(
            MessageContext(
                topic=topic,
                payload=publish.payload,
                client_id=connect.client_id,
                principal=admitted.principal,
                timestamp_ms=int(time.time() * 1000),
                user_properties=tuple(publish.user_properties),
                response_topic=properties.get(packets.RESPONSE_TOPIC),
                correlation_data=properties.get(packets.CORRELATION_DATA),
                content_type=properties.get(packets.CONTENT_TYPE),
                payload_format=properties.get(packets.PAYLOAD_FORMAT),
            )
        )
