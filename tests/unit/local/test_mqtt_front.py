"""The local MQTT front's pieces without a broker: packet framing and CONNECT/PUBLISH parsing (MQTT 5,
3.1.1, bad packets), the authorizer's answer read as IoT Core reads it, its policy evaluated and
translated into Mosquitto dynamic-security ACLs, and the iot-data Publish request read as botocore
sends it."""

from __future__ import annotations

import base64
import io
import json
import struct
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleetgate.domain import mqtt_policy
from fleetgate_local.mqtt import packets
from fleetgate_local.mqtt.bridge import BadRequest, parse_publish
from fleetgate_local.mqtt.front import acl_allows, admission, authorizer_event
from fleetgate_local.mqtt.packets import MalformedPacket, encode_connect, read_packet
from fleetgate_local.mqtt.policy import Policy, PolicyError

DEVICE = "8f14e45f-ceea-467f-a0e6-1a6b8c3b5a11"
PREFIX = "arn:aws:iot:us-east-1:123456789012:"
SCOPE = mqtt_policy.ArnScope("aws", "us-east-1", "123456789012")


def stream(data: bytes) -> Any:
    return io.BytesIO(data).read


# --------------------------------------------------------------------------- framing
def test_packets_are_read_one_by_one_from_a_stream_with_multi_byte_lengths() -> None:
    body = b"x" * 300  # a remaining length of two bytes
    data = bytes([0x30]) + packets.encode_length(len(body)) + body + bytes([0xE0, 0])

    recv = stream(data)
    first, second, end = read_packet(recv), read_packet(recv), read_packet(recv)

    assert first is not None and (first.kind, first.body, first.raw) == (packets.PUBLISH, body, data[:-2])
    assert second is not None and second.kind == packets.DISCONNECT
    assert end is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]), "over 4 bytes"),
        (bytes([0x30, 0x05, 0x00]), "ended inside"),
        (bytes([0x30]), "ended inside"),
        (bytes([0x30, 0xFF, 0xFF, 0x7F]), "over"),  # 2 MB: over the size limit
    ],
)
def test_a_bad_frame_is_malformed(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedPacket, match=problem):
        read_packet(stream(data))


# --------------------------------------------------------------------------- CONNECT
@pytest.mark.parametrize("version", [packets.V5, packets.V311, packets.V31])
def test_a_connect_of_each_version_gives_its_credentials(version: int) -> None:
    raw = encode_connect("thermo-1", version=version, username=DEVICE, password=b"tok\x00en", keep_alive=30)

    connect = packets.parse_connect(read_packet(stream(raw)))  # type: ignore[arg-type]

    assert (connect.protocol_level, connect.client_id, connect.username, connect.password) == (
        version,
        "thermo-1",
        DEVICE,
        b"tok\x00en",
    )
    assert (connect.keep_alive, connect.clean_start) == (30, True)


def test_a_v5_connect_with_properties_and_a_will_is_read() -> None:
    properties = bytes([0x05, 0x11, 0, 0, 0, 60])  # session expiry 60
    will = bytes([0x00]) + struct.pack("!H", 3) + b"w/t" + struct.pack("!H", 2) + b"bye"[:2]
    body = (
        struct.pack("!H", 4)
        + b"MQTT"
        + bytes([5, 0xC6])
        + struct.pack("!H", 60)
        + properties
        + struct.pack("!H", 1)
        + b"c"
        + will
        + struct.pack("!H", 1)
        + b"u"
        + struct.pack("!H", 1)
        + b"p"
    )
    raw = bytes([0x10]) + packets.encode_length(len(body)) + body

    connect = packets.parse_connect(read_packet(stream(raw)))  # type: ignore[arg-type]

    assert (connect.client_id, connect.username, connect.password) == ("c", "u", b"p")


def test_a_connect_without_credentials_has_none() -> None:
    connect = packets.parse_connect(read_packet(stream(encode_connect("c"))))  # type: ignore[arg-type]

    assert (connect.username, connect.password) == (None, None)
    assert authorizer_event(connect, "host")["protocolData"]["mqtt"] == {"clientId": "c"}


@pytest.mark.parametrize(
    "raw",
    [
        bytes([0x30, 0]),  # a PUBLISH first
        bytes([0x11, 0]),  # CONNECT with flags
        encode_connect("c").replace(b"MQTT", b"MQTX"),
        encode_connect("c")[:2] + encode_connect("c")[2:8] + bytes([7]) + encode_connect("c")[9:],  # level 7
        encode_connect("c")[:9] + bytes([0x03]) + encode_connect("c")[10:],  # reserved flag
        encode_connect("c")[:9] + bytes([0x0A]) + encode_connect("c")[10:],  # will flag, no will
        encode_connect("c")[:9] + bytes([0x12]) + encode_connect("c")[10:],  # will QoS without a will
        bytes([0x10, 3, 0, 4, ord("M")]),  # cut short
        encode_connect("c", username="u")[:-1] + b"\xff",  # username not UTF-8 ... and short
    ],
)
def test_a_bad_connect_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedPacket):
        packet = read_packet(stream(raw))
        assert packet is not None
        packets.parse_connect(packet)


@pytest.mark.parametrize(("version", "code"), [(packets.V5, 0x86), (packets.V311, 4)])
def test_a_refusal_is_a_connack_with_the_versions_code(version: int, code: int) -> None:
    connack = packets.connack(version, packets.BAD_CREDENTIALS[version])

    assert connack[0] == 0x20 and connack[3] == code
    assert len(connack) == (5 if version == packets.V5 else 4)


# --------------------------------------------------------------------------- PUBLISH
def v5_publish(topic: str, payload: bytes, properties: Properties, qos: int = 1) -> bytes:
    props = properties.pack()
    body = (
        struct.pack("!H", len(topic))
        + topic.encode()
        + (struct.pack("!H", 7) if qos else b"")
        + props
        + payload
    )
    return bytes([0x30 | qos << 1]) + packets.encode_length(len(body)) + body


def test_a_v5_publish_carries_its_properties() -> None:
    # Given a PUBLISH with every property a rule reads, packed by paho (an independent encoder)
    properties = Properties(PacketTypes.PUBLISH)
    properties.UserProperty = [("a", "1"), ("a", "2")]
    properties.ResponseTopic = "r/t"
    properties.CorrelationData = b"\x01\x02"
    properties.ContentType = "application/json"
    properties.PayloadFormatIndicator = 1
    properties.MessageExpiryInterval = 30
    properties.TopicAlias = 3

    publish = packets.parse_publish(read_packet(stream(v5_publish("v1/x", b"{}", properties))), packets.V5)  # type: ignore[arg-type]

    assert (publish.topic, publish.payload, publish.qos, publish.packet_id) == ("v1/x", b"{}", 1, 7)
    assert publish.user_properties == [("a", "1"), ("a", "2")]
    assert publish.properties[packets.RESPONSE_TOPIC] == "r/t"
    assert publish.properties[packets.CORRELATION_DATA] == b"\x01\x02"
    assert publish.properties[packets.CONTENT_TYPE] == "application/json"
    assert publish.properties[packets.PAYLOAD_FORMAT] == 1
    assert publish.properties[packets.MESSAGE_EXPIRY] == 30
    assert publish.properties[packets.TOPIC_ALIAS] == 3


def test_a_v311_publish_has_no_properties_and_qos_0_no_packet_id() -> None:
    body = struct.pack("!H", 3) + b"a/b" + b"payload"
    publish = packets.parse_publish(read_packet(stream(bytes([0x31, len(body)]) + body)), packets.V311)  # type: ignore[arg-type]

    assert (publish.topic, publish.payload, publish.qos, publish.retain, publish.packet_id) == (
        "a/b",
        b"payload",
        0,
        True,
        None,
    )


@pytest.mark.parametrize(
    "raw",
    [
        bytes([0x36, 5, 0, 1, ord("a"), 0, 1]),  # QoS 3
        bytes([0x32, 3, 0, 5, ord("a")]),  # topic longer than the packet
        bytes([0x30, 5, 0, 1, ord("a"), 2, 0xFF]),  # unknown property
        bytes([0x30, 7, 0, 1, ord("a"), 4, 0x08, 0, 9]),  # a property longer than its properties
    ],
)
def test_a_bad_publish_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedPacket):
        packets.parse_publish(read_packet(stream(raw)), packets.V5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- policy and ACLs
def device_policy() -> Policy:
    answer = mqtt_policy.allowed(DEVICE, "thermo-1", SCOPE, "fleetgate")
    admitted = admission(answer)
    assert admitted is not None and admitted.principal == DEVICE.replace("-", "")
    return admitted.policy


def test_the_device_policy_becomes_literal_acls() -> None:
    acls = device_policy().acls(PREFIX)

    own, commands = f"v1/device/{DEVICE}/#", "fleetgate/commands/things/thermo-1"
    assert acls == [
        {"acltype": "publishClientSend", "topic": own, "priority": 1, "allow": True},
        {"acltype": "publishClientReceive", "topic": own, "priority": 1, "allow": True},
        {"acltype": "subscribePattern", "topic": own, "priority": 1, "allow": True},
        {"acltype": "subscribePattern", "topic": f"{commands}/#", "priority": 1, "allow": True},
        {"acltype": "publishClientReceive", "topic": f"{commands}/#", "priority": 1, "allow": True},
        {
            "acltype": "publishClientSend",
            "topic": f"{commands}/executions/+/response",
            "priority": 1,
            "allow": True,
        },
    ]


@pytest.mark.parametrize(
    ("action", "resource", "allowed"),
    [
        ("iot:Connect", f"client/{DEVICE}", True),
        ("iot:Connect", "client/thermo-1", True),
        ("iot:Connect", "client/thermo-2", False),
        ("iot:Publish", f"topic/v1/device/{DEVICE}/status", True),
        ("iot:Publish", "topic/v1/device/other/status", False),
        ("iot:Publish", "topic/fleetgate/commands/things/thermo-1/executions/e1/response", True),
        ("iot:Publish", "topic/fleetgate/commands/things/thermo-1/executions/e1/request", False),
        ("iot:Receive", "topic/fleetgate/commands/things/thermo-1/executions/e1/request", True),
        ("iot:Subscribe", "topicfilter/fleetgate/commands/things/thermo-2/#", False),
    ],
)
def test_the_policy_allows_what_iam_would(action: str, resource: str, allowed: bool) -> None:
    assert device_policy().allows(action, PREFIX + resource) is allowed


def test_a_deny_statement_wins_and_becomes_a_higher_ranked_acl() -> None:
    documents = [
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": f"{PREFIX}topic/a/*"}]}),
        json.dumps(
            {
                "Statement": {
                    "Effect": "Deny",
                    "Action": ["iot:Publish"],
                    "Resource": f"{PREFIX}topic/a/secret",
                }
            }
        ),
    ]
    policy = Policy.parse(documents)

    assert policy.allows("iot:Publish", f"{PREFIX}topic/a/open")
    assert not policy.allows("iot:Publish", f"{PREFIX}topic/a/secret")
    acls = policy.acls(PREFIX)
    assert acl_allows(acls, "publishClientSend", "a/open")
    assert not acl_allows(acls, "publishClientSend", "a/secret")
    assert not acl_allows(acls, "publishClientSend", "b/open")  # nothing matches: denied


@pytest.mark.parametrize(
    ("resource", "acl_topic"),
    [
        ("topic/a/*", "a/#"),
        ("topic/a/*/c", "a/+/c"),
        ("topic/a/b", "a/b"),
        ("topic/a/b*", None),  # inside a level: no filter says as little
        ("topic/a/?", None),
        ("topicfilter/a/*", None),  # another resource kind than Publish's
        ("*", "#"),
    ],
)
def test_iot_resources_translate_to_mqtt_filters_or_to_nothing(resource: str, acl_topic: str | None) -> None:
    arn = resource if resource == "*" else PREFIX + resource
    policy = Policy.parse(
        [json.dumps({"Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": arn}]})]
    )

    topics = [acl["topic"] for acl in policy.acls(PREFIX)]

    assert topics == ([] if acl_topic is None else [acl_topic])


def test_a_subscribe_resource_without_wildcard_is_a_literal_acl() -> None:
    statement = {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"{PREFIX}topicfilter/a/b"}

    assert (
        Policy.parse([json.dumps({"Statement": [statement]})]).acls(PREFIX)[0]["acltype"]
        == "subscribeLiteral"
    )


@pytest.mark.parametrize(
    "answer",
    [
        None,
        {},
        {"isAuthenticated": "yes"},
        {"isAuthenticated": True, "principalId": "with-hyphen", "policyDocuments": []},
        {"isAuthenticated": True, "principalId": "p" * 129, "policyDocuments": []},
        {"isAuthenticated": True, "principalId": "p", "policyDocuments": ["{}"] * 11},
        {"isAuthenticated": True, "principalId": "p", "policyDocuments": ["x" * 2049]},
        {"isAuthenticated": True, "principalId": "p", "policyDocuments": ["not json"]},
        {
            "isAuthenticated": True,
            "principalId": "p",
            "policyDocuments": [json.dumps({"Statement": [{"Effect": "Maybe"}]})],
        },
    ],
)
def test_an_answer_iot_core_would_refuse_is_a_policy_error(answer: Any) -> None:
    with pytest.raises(PolicyError):
        admission(answer)


def test_a_denial_admits_nothing() -> None:
    assert admission(mqtt_policy.denied()) is None


# --------------------------------------------------------------------------- iot-data Publish
def botocore_request(**params: Any) -> AWSPreparedRequest:
    """The HTTP request botocore's iot-data client sends for Publish (captured before sending)."""
    client = boto3.client(
        "iot-data",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="AKIDLOCAL",
        aws_secret_access_key="x",
    )
    captured: list[AWSPreparedRequest] = []

    class Captured(Exception):
        pass

    def capture(request: AWSPreparedRequest, **kwargs: Any) -> Any:
        captured.append(request)
        raise Captured  # never sent

    client.meta.events.register("before-send.iot-data.Publish", capture)
    with pytest.raises(Captured):
        client.publish(**params)
    return captured[0]


def test_the_publish_botocore_sends_is_read_with_every_mqtt5_field() -> None:
    request = botocore_request(
        topic="fleetgate/commands/things/t/executions/e/request",
        qos=1,
        retain=True,
        payload=b'{"a":1}',
        responseTopic="fleetgate/commands/things/t/executions/e/response",
        contentType="application/json",
        messageExpiry=60,
        payloadFormatIndicator="UTF8_DATA",
        correlationData=base64.b64encode(b"corr").decode(),
        userProperties=[{"k1": "v1"}, {"k2": "v2"}],  # botocore JSON-encodes it itself
    )
    path = request.url.split("127.0.0.1:9", 1)[1]

    headers = {
        name.lower(): value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
    }

    fields = parse_publish(path, headers, request.body)

    assert fields == {
        "topic": "fleetgate/commands/things/t/executions/e/request",
        "qos": 1,
        "retain": True,
        "payload": b'{"a":1}',
        "response_topic": "fleetgate/commands/things/t/executions/e/response",
        "content_type": "application/json",
        "message_expiry": 60,
        "correlation_data": b"corr",
        "payload_format": 1,
        "user_properties": (("k1", "v1"), ("k2", "v2")),
    }


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/topics/a%2F%2B", {}),
        ("/topics/a%2F%23", {}),
        ("/topics/a?qos=2", {}),
        ("/topics/a?messageExpiry=soon", {}),
        ("/topics/a?responseTopic=r%2F%23", {}),
        ("/topics/a", {"x-amz-mqtt5-correlation-data": "not base64!"}),
        ("/topics/a", {"x-amz-mqtt5-user-properties": base64.b64encode(b"{}").decode()}),
        ("/topics/a", {"x-amz-mqtt5-payload-format-indicator": "TEXT"}),
    ],
)
def test_a_publish_aws_refuses_is_a_bad_request(path: str, headers: dict[str, str]) -> None:
    with pytest.raises(BadRequest):
        parse_publish(path, headers, b"")


def test_any_other_data_plane_path_is_not_publish() -> None:
    with pytest.raises(LookupError):
        parse_publish("/things/t/shadow", {}, b"")
