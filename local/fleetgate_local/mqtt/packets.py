"""MQTT packets, as much of them as the local MQTT front needs: framing (fixed header and remaining
length), CONNECT (3.1, 3.1.1 and 5), PUBLISH with its MQTT 5 properties, and the CONNACK that refuses a
connection.

Invariants: ``read_packet`` returns one whole packet or raises ``MalformedPacket`` (a length over 4
bytes, over ``max_size``, or a stream that ends mid-packet); the parsers raise ``MalformedPacket`` for
anything they cannot read, never another exception.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CONNECT, CONNACK, PUBLISH, SUBSCRIBE, DISCONNECT = 1, 2, 3, 8, 14
MAX_PACKET = 256 * 1024 + 1024  # AWS IoT Core takes messages up to 128 KB; room for headers and properties
V31, V311, V5 = 3, 4, 5

# MQTT 5 property identifiers and how their values are encoded
PAYLOAD_FORMAT, MESSAGE_EXPIRY, CONTENT_TYPE, RESPONSE_TOPIC, CORRELATION_DATA = 0x01, 0x02, 0x03, 0x08, 0x09
SUBSCRIPTION_ID, TOPIC_ALIAS, USER_PROPERTY = 0x0B, 0x23, 0x26
_BYTE = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A}
_TWO = {0x13, 0x21, 0x22, 0x23}
_FOUR = {0x02, 0x11, 0x18, 0x27}
_VARINT = {0x0B}
_STRING = {0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F}
_BINARY = {0x09, 0x16}

# CONNACK codes that refuse a connection: MQTT 5 reason codes, MQTT 3 return codes
BAD_CREDENTIALS = {V5: 0x86, V311: 4, V31: 4}  # bad user name or password
NOT_AUTHORIZED = {V5: 0x87, V311: 5, V31: 5}
UNAVAILABLE = {V5: 0x88, V311: 3, V31: 3}  # server unavailable


class MalformedPacket(Exception):
    """The bytes are not the MQTT packet they should be."""


@dataclass(frozen=True)
class Packet:
    kind: int  # the packet type, 1-15
    flags: int  # the low 4 bits of the first byte
    body: bytes  # everything after the fixed header
    raw: bytes  # the whole packet as received (forwarded as is)


@dataclass(frozen=True)
class Connect:
    protocol_level: int  # 3, 4 (3.1.1) or 5
    client_id: str
    username: str | None
    password: bytes | None
    keep_alive: int
    clean_start: bool

    @property
    def version(self) -> int:
        return self.protocol_level


@dataclass(frozen=True)
class Publish:
    topic: str  # empty when an MQTT 5 topic alias stands for it
    payload: bytes
    qos: int
    retain: bool
    packet_id: int | None = None
    properties: dict[int, Any] = field(default_factory=dict)  # user properties: a list of (key, value)

    @property
    def user_properties(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = self.properties.get(USER_PROPERTY, [])
        return pairs


def read_packet(recv: Callable[[int], bytes], max_size: int = MAX_PACKET) -> Packet | None:
    """One packet from ``recv`` (a socket's ``recv``); None when the stream ends between packets."""
    first = _exactly(recv, 1, at_start=True)
    if first is None:
        return None
    header, multiplier, length = bytearray(first), 1, 0
    for _ in range(4):
        digit = _exactly(recv, 1)
        assert digit is not None
        header += digit
        length += (digit[0] & 0x7F) * multiplier
        if not digit[0] & 0x80:
            break
        multiplier *= 128
    else:
        raise MalformedPacket("remaining length over 4 bytes")
    if length > max_size:
        raise MalformedPacket(f"packet of {length} bytes is over {max_size}")
    body = _exactly(recv, length) if length else b""
    assert body is not None
    return Packet(first[0] >> 4, first[0] & 0x0F, body, bytes(header) + body)


def _exactly(recv: Callable[[int], bytes], count: int, *, at_start: bool = False) -> bytes | None:
    data = bytearray()
    while len(data) < count:
        chunk = recv(count - len(data))
        if not chunk:
            if at_start and not data:
                return None
            raise MalformedPacket("the stream ended inside a packet")
        data += chunk
    return bytes(data)


def encode_length(length: int) -> bytes:
    out = bytearray()
    while True:
        digit, length = length % 128, length // 128
        out.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(out)


def connack(version: int, code: int) -> bytes:
    """A CONNACK with ``code`` (no session present, no properties)."""
    if version == V5:
        return bytes([CONNACK << 4, 3, 0, code, 0])
    return bytes([CONNACK << 4, 2, 0, code])


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, count: int) -> bytes:
        if self.at + count > len(self.data):
            raise MalformedPacket("the packet ends too early")
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def two(self) -> int:
        value: int = struct.unpack("!H", self.take(2))[0]
        return value

    def four(self) -> int:
        value: int = struct.unpack("!I", self.take(4))[0]
        return value

    def varint(self) -> int:
        value, multiplier = 0, 1
        for _ in range(4):
            digit = self.byte()
            value += (digit & 0x7F) * multiplier
            if not digit & 0x80:
                return value
            multiplier *= 128
        raise MalformedPacket("variable byte integer over 4 bytes")

    def binary(self) -> bytes:
        return self.take(self.two())

    def string(self) -> str:
        try:
            return self.binary().decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPacket("a string is not UTF-8") from None

    def rest(self) -> bytes:
        chunk = self.data[self.at :]
        self.at = len(self.data)
        return chunk

    def properties(self) -> dict[int, Any]:
        end = self.varint()
        end += self.at
        if end > len(self.data):
            raise MalformedPacket("properties run past the packet")
        found: dict[int, Any] = {}
        while self.at < end:
            key = self.varint()
            if key == USER_PROPERTY:
                found.setdefault(key, []).append((self.string(), self.string()))
                continue
            if key in found:
                raise MalformedPacket(f"property 0x{key:02x} given twice")
            found[key] = self._property(key)
        if self.at != end:
            raise MalformedPacket("properties run past their length")
        return found

    def _property(self, key: int) -> Any:
        kinds: list[tuple[set[int], Callable[[], Any]]] = [
            (_BYTE, self.byte),
            (_TWO, self.two),
            (_FOUR, self.four),
            (_VARINT, self.varint),
            (_STRING, self.string),
            (_BINARY, self.binary),
        ]
        for keys, read in kinds:
            if key in keys:
                return read()
        raise MalformedPacket(f"unknown property 0x{key:02x}")


def parse_connect(packet: Packet) -> Connect:
    """The CONNECT of MQTT 3.1, 3.1.1 or 5 (``MalformedPacket`` for any other packet)."""
    if packet.kind != CONNECT or packet.flags != 0:
        raise MalformedPacket("the first packet must be a CONNECT")
    try:
        reader = _Reader(packet.body)
        name, level = reader.string(), reader.byte()
        if (name, level) not in (("MQTT", V311), ("MQTT", V5), ("MQIsdp", V31)):
            raise MalformedPacket(f"unsupported protocol {name!r} level {level}")
        flags = reader.byte()
        if flags & 0x01:
            raise MalformedPacket("the reserved connect flag is set")
        keep_alive = reader.two()
        if level == V5:
            reader.properties()
        client_id = reader.string()
        if flags & 0x04:  # a will message
            if level == V5:
                reader.properties()
            reader.string()
            reader.binary()
        elif flags & 0x38:
            raise MalformedPacket("will QoS or retain without a will")
        username = reader.string() if flags & 0x80 else None
        password = reader.binary() if flags & 0x40 else None
        if reader.at != len(packet.body):
            raise MalformedPacket("bytes after the CONNECT payload")
    except (struct.error, IndexError) as error:
        raise MalformedPacket(str(error)) from None
    return Connect(level, client_id, username, password, keep_alive, bool(flags & 0x02))


def parse_publish(packet: Packet, version: int) -> Publish:
    """A PUBLISH (any version); MQTT 5 properties are read when ``version`` is 5."""
    if packet.kind != PUBLISH:
        raise MalformedPacket("not a PUBLISH")
    qos = (packet.flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("QoS 3")
    reader = _Reader(packet.body)
    topic = reader.string()
    packet_id = reader.two() if qos else None
    properties = reader.properties() if version == V5 else {}
    return Publish(topic, reader.rest(), qos, bool(packet.flags & 0x01), packet_id, properties)


def encode_connect(
    client_id: str,
    *,
    version: int = V5,
    username: str | None = None,
    password: bytes | None = None,
    keep_alive: int = 60,
) -> bytes:
    """A CONNECT (clean start, no will): for tests and tools."""
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    name = "MQIsdp" if version == V31 else "MQTT"
    body = _string(name) + bytes([version, flags]) + struct.pack("!H", keep_alive)
    if version == V5:
        body += b"\x00"
    body += _string(client_id)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += struct.pack("!H", len(password)) + password
    return bytes([CONNECT << 4]) + encode_length(len(body)) + body


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data
