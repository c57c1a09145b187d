"""The simulated ThingsPro Edge gateway (``tools/thingspro_gateway``), pure: every operation of Moxa's
ThingsPro Cloud APIs 2.4.0 (``tests/fixtures/thingspro-cloud-openapi-2.4.0.yaml``) answers what that
document's response schema allows; the remote-API envelope refuses what Moxa documents it refuses; the
message groups publish Moxa's default format."""

from __future__ import annotations

import base64
import copy
import io
import json
import ssl
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import paho.mqtt.client as paho
import pytest
import yaml

from tools.thingspro_gateway import __main__ as cli
from tools.thingspro_gateway import client, tags
from tools.thingspro_gateway.gateway import Gateway

DOCUMENT_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "thingspro-cloud-openapi-2.4.0.yaml"
DOCUMENT: dict[str, Any] = yaml.safe_load(DOCUMENT_PATH.read_text())
NOW = datetime(2026, 12, 1, 18, 0, 0, tzinfo=UTC)
LATER = "2026-12-01 18:45:26"
METHODS = ("get", "put", "post", "patch", "delete")

GROUP = {
    "enable": True,
    "outputTopic": "sample",
    "tags": {"modbus": {"myDevice1": ["di0", "di1"]}},
    "sendOutThreshold": {"mode": "byTime", "time": 60},
}
SPARKPLUG_GROUP = {k: v for k, v in GROUP.items() if k != "outputTopic"}
MQTT_CLIENT = {
    "enable": True,
    "server": "broker.example",
    "port": 1883,
    "clientID": "mydevice1",
    "remoteAPI": {"enable": True, "requestSubTopic": "/devices/1/request", "responsePubTopic": "/r"},
}
BROKER = {
    "enable": True,
    "server": "test.sparkplug.org",
    "port": 1883,
    "keepAliveSec": 10,
    "userName": "admin",
}
PROPERTIES = {
    "system services": {"httpserver": [{"reportedPath": "httpserver", "desiredPath": "httpserver"}]}
}
STORE_AND_FORWARD = {"enable": True, "targetDiskName": "System", "desiredDiskCacheSizeMB": 16}


# --------------------------------------------------------------------------- helpers
def _inline(node: Any) -> Any:
    """The schema with every ``#/components/...`` reference replaced by its target."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = DOCUMENT
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _inline(target)
        return {key: _inline(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item) for item in node]
    return node


def response_schema(method: str, template: str, status: int) -> dict[str, Any]:
    responses = DOCUMENT["paths"][template][method.lower()]["responses"]
    response = responses.get(status, responses.get(str(status)))
    content = response["content"]
    schema: dict[str, Any] = _inline(content.get("application/json", next(iter(content.values())))["schema"])
    return schema


def request(
    path: str, method: str = "GET", body: Any = None, request_id: str = "1", expires: str = LATER
) -> bytes:
    message: dict[str, Any] = {
        "path": path,
        "method": method,
        "headers": [{"request-expired-time": expires}, {"request-id": request_id}],
    }
    if body is not None:
        message["requestBody"] = body
    return json.dumps(message).encode()


def populated() -> Gateway:
    """A gateway with one of everything that has an id: MQTT client 1 and message group 1 of every service,
    Sparkplug broker 1."""
    gateway = Gateway()
    for method, path, body in [
        ("POST", "/mqtt", MQTT_CLIENT),
        ("POST", "/mqtt/1/messages", GROUP),
        ("POST", "/azure-device/messages", GROUP),
        ("POST", "/aws/messages", GROUP),
        ("POST", "/azure-iotedge/messages", GROUP),
        ("POST", "/sparkplug/brokers", BROKER),
        ("POST", "/sparkplug/messages?type=node", SPARKPLUG_GROUP),
    ]:
        status, payload = gateway.call(method, path, body, NOW)
        assert status == 200, payload
    return gateway


def _sparkplug_zip(gateway: Gateway) -> dict[str, Any]:
    status, payload = gateway.call("GET", "/sparkplug/configuration", None, NOW)
    assert status == 200
    return {"file": payload["data"], "password": "moxa", "decryption": True, "filename": "sparkplug.zip"}


Body = Any | Callable[[Gateway], Any]
TEST_TAGS = {"format": "", "tags": [{"srcName": "system", "tagName": "cpuUsage", "dataType": "int32"}]}

# (method, Moxa's path template) -> (the path requested, its body)
CASES: dict[tuple[str, str], tuple[str, Body]] = {
    ("GET", "/remotectl/services"): ("/remotectl/services", None),
    ("GET", "/mqtt"): ("/mqtt", None),
    ("POST", "/mqtt"): ("/mqtt", {"server": "other.example", "port": 8883, "certificateOverTLS": True}),
    ("PUT", "/mqtt/{id}"): ("/mqtt/1", {"keepAliveSec": 30, "tlsVersion": "1.3"}),
    ("DELETE", "/mqtt/{id}"): ("/mqtt/1", None),
    ("GET", "/mqtt/monitor"): ("/mqtt/monitor", None),
    ("PUT", "/mqtt/check"): ("/mqtt/check", None),
    ("DELETE", "/mqtt/{id}/certificates"): ("/mqtt/1/certificates", None),
    ("GET", "/mqtt/{id}/store-and-forward"): ("/mqtt/1/store-and-forward", None),
    ("PUT", "/mqtt/{id}/store-and-forward"): ("/mqtt/1/store-and-forward", STORE_AND_FORWARD),
    ("GET", "/mqtt/{id}/messages"): ("/mqtt/1/messages", None),
    ("POST", "/mqtt/{id}/messages"): ("/mqtt/1/messages", GROUP),
    ("GET", "/mqtt/{id}/messages/{group_id}"): ("/mqtt/1/messages/1", None),
    ("PUT", "/mqtt/{id}/messages/{group_id}"): ("/mqtt/1/messages/1", {"samplingMode": "latestValues"}),
    ("DELETE", "/mqtt/{id}/messages/{group_id}"): ("/mqtt/1/messages/1", None),
    ("PUT", "/mqtt/{id}/messages/test"): ("/mqtt/1/messages/test", TEST_TAGS),
    ("GET", "/azure-device"): ("/azure-device", None),
    ("PUT", "/azure-device"): (
        "/azure-device",
        {
            "provisioning": {
                "enable": True,
                "connectionString": "HostName=h;DeviceId=d;SharedAccessKey=k",
                "protocol": {"protocol": "amqp"},
            }
        },
    ),
    ("POST", "/azure-device"): (
        "/azure-device",
        {
            "caCertFile": "device.crt",
            "caPkFile": "device.key",
            "rootCaCertFile": "root.crt",
            "connectionString": "HostName=h;DeviceId=d;x509=true",
            "protocol": "mqttOverWebsocket",
        },
    ),
    ("GET", "/azure-device/monitor"): ("/azure-device/monitor", None),
    ("PUT", "/azure-device/check"): ("/azure-device/check", None),
    ("GET", "/azure-device/twin/properties"): ("/azure-device/twin/properties", None),
    ("PUT", "/azure-device/twin/properties"): ("/azure-device/twin/properties", PROPERTIES),
    ("PUT", "/azure-device/twin/reported"): ("/azure-device/twin/reported", None),
    ("PUT", "/azure-device/twin/clear"): ("/azure-device/twin/clear", ["general", "ethernets"]),
    ("GET", "/azure-device/store-and-forward"): ("/azure-device/store-and-forward", None),
    ("PUT", "/azure-device/store-and-forward"): ("/azure-device/store-and-forward", STORE_AND_FORWARD),
    ("GET", "/azure-device/messages"): ("/azure-device/messages", None),
    ("POST", "/azure-device/messages"): ("/azure-device/messages", GROUP),
    ("GET", "/azure-device/messages/{id}"): ("/azure-device/messages/1", None),
    ("PUT", "/azure-device/messages/{id}"): ("/azure-device/messages/1", {"enable": False}),
    ("DELETE", "/azure-device/messages/{id}"): ("/azure-device/messages/1", None),
    ("PUT", "/azure-device/messages/test"): ("/azure-device/messages/test", TEST_TAGS),
    ("GET", "/aws"): ("/aws", None),
    ("PUT", "/aws"): (
        "/aws",
        {
            "provisioning": {
                "enable": True,
                "host": "a22j5sm6o3yzc5.iot.us-east-1.amazonaws.com",
                "thingID": "MyThingsproEdge",
                "caCertFile": "device.crt",
            }
        },
    ),
    ("GET", "/aws/monitor"): ("/aws/monitor", None),
    ("PUT", "/aws/check"): ("/aws/check", None),
    ("GET", "/aws/shadow/properties"): ("/aws/shadow/properties", None),
    ("PUT", "/aws/shadow/properties"): ("/aws/shadow/properties", PROPERTIES),
    ("PUT", "/aws/shadow/reported"): ("/aws/shadow/reported", None),
    ("PUT", "/aws/shadow/clear"): ("/aws/shadow/clear", ["general"]),
    ("GET", "/aws/store-and-forward"): ("/aws/store-and-forward", None),
    ("PUT", "/aws/store-and-forward"): ("/aws/store-and-forward", STORE_AND_FORWARD),
    ("GET", "/aws/messages"): ("/aws/messages", None),
    ("POST", "/aws/messages"): ("/aws/messages", GROUP),
    ("GET", "/aws/messages/{id}"): ("/aws/messages/1", None),
    ("PUT", "/aws/messages/{id}"): ("/aws/messages/1", {"outputTopic": "other"}),
    ("DELETE", "/aws/messages/{id}"): ("/aws/messages/1", None),
    ("PUT", "/aws/messages/test"): ("/aws/messages/test", TEST_TAGS),
    ("GET", "/azure-iotedge"): ("/azure-iotedge", None),
    ("PATCH", "/azure-iotedge"): (
        "/azure-iotedge",
        {
            "provisioning": {
                "enable": True,
                "source": "dps",
                "method": "symmetricKey",
                "scopeId": "0ne00000000",
                "registrationId": "edge-1",
                "symmetricKey": "c2VjcmV0",
            }
        },
    ),
    ("PUT", "/azure-iotedge/reset"): ("/azure-iotedge/reset", None),
    ("PUT", "/azure-iotedge/restart"): ("/azure-iotedge/restart", None),
    ("PUT", "/azure-iotedge/modules/{name}/restart"): ("/azure-iotedge/modules/edgeHub/restart", None),
    ("POST", "/azure-iotedge/certificates"): (
        "/azure-iotedge/certificates",
        {"caCertFile": "ca.crt", "caPkFile": "ca.key", "trustedCaFile": "trusted.crt"},
    ),
    ("GET", "/azure-iotedge/twin/properties"): ("/azure-iotedge/twin/properties", None),
    ("PUT", "/azure-iotedge/twin/properties"): ("/azure-iotedge/twin/properties", PROPERTIES),
    ("PUT", "/azure-iotedge/twin/reported"): ("/azure-iotedge/twin/reported", None),
    ("PUT", "/azure-iotedge/twin/clear"): ("/azure-iotedge/twin/clear", ["general"]),
    ("GET", "/azure-iotedge/messages"): ("/azure-iotedge/messages", None),
    ("POST", "/azure-iotedge/messages"): ("/azure-iotedge/messages", GROUP),
    ("GET", "/azure-iotedge/messages/{id}"): ("/azure-iotedge/messages/1", None),
    ("PUT", "/azure-iotedge/messages/{id}"): ("/azure-iotedge/messages/1", {"format": ".tagName"}),
    ("DELETE", "/azure-iotedge/messages/{id}"): ("/azure-iotedge/messages/1", None),
    ("PUT", "/azure-iotedge/messages/test"): ("/azure-iotedge/messages/test", TEST_TAGS),
    ("GET", "/sparkplug"): ("/sparkplug?event=true", None),
    ("PUT", "/sparkplug"): ("/sparkplug", {"enable": True, "nodeID": "gary", "primaryHostID": "garyig"}),
    ("GET", "/sparkplug/configuration"): ("/sparkplug/configuration?encryption=false", None),
    ("PUT", "/sparkplug/configuration"): ("/sparkplug/configuration", _sparkplug_zip),
    ("GET", "/sparkplug/brokers"): ("/sparkplug/brokers", None),
    ("PUT", "/sparkplug/brokers"): ("/sparkplug/brokers", [BROKER, {**BROKER, "server": "backup.example"}]),
    ("POST", "/sparkplug/brokers"): ("/sparkplug/brokers", {**BROKER, "password": "password"}),
    ("PUT", "/sparkplug/brokers/{id}"): ("/sparkplug/brokers/1", {"keepAliveSec": 30}),
    ("DELETE", "/sparkplug/brokers/{id}"): ("/sparkplug/brokers/1", None),
    ("GET", "/sparkplug/node/properties"): ("/sparkplug/node/properties", None),
    ("PUT", "/sparkplug/node/properties"): ("/sparkplug/node/properties", PROPERTIES),
    ("PUT", "/sparkplug/node/reported"): ("/sparkplug/node/reported", None),
    ("PUT", "/sparkplug/node/clear"): ("/sparkplug/node/clear", ["general"]),
    ("GET", "/sparkplug/store-and-forward"): ("/sparkplug/store-and-forward", None),
    ("PUT", "/sparkplug/store-and-forward"): (
        "/sparkplug/store-and-forward",
        {**STORE_AND_FORWARD, "bulkUpload": {"enable": True, "size": 256}},
    ),
    ("GET", "/sparkplug/properties"): ("/sparkplug/properties", None),
    ("PUT", "/sparkplug/properties"): (
        "/sparkplug/properties",
        {
            "selections": {
                "device": {"cellulars": [{"source": "ip", "reportedPath": "Properties.Cellular IP"}]}
            }
        },
    ),
    ("GET", "/sparkplug/messages"): ("/sparkplug/messages?type=node", None),
    ("POST", "/sparkplug/messages"): ("/sparkplug/messages?type=device", SPARKPLUG_GROUP),
    ("GET", "/sparkplug/messages/{id}"): ("/sparkplug/messages/1", None),
    ("PUT", "/sparkplug/messages/{id}"): ("/sparkplug/messages/1", {"minPublishInterval": 5}),
    ("DELETE", "/sparkplug/messages/{id}"): ("/sparkplug/messages/1", None),
}
OPERATIONS = [(m.upper(), p) for p, ops in DOCUMENT["paths"].items() for m in ops if m in METHODS]
SUCCESS = {("PUT", "/azure-iotedge/reset"): 202}


# --------------------------------------------------------------------------- every operation
def test_every_operation_of_the_document_has_a_case():
    assert len(OPERATIONS) == 87
    assert set(OPERATIONS) == set(CASES)


@pytest.mark.parametrize(("method", "template"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_each_operation_answers_what_moxa_documents(method: str, template: str):
    # Given a gateway with one of everything, and the operation's request over the remote API
    gateway = populated()
    path, body = CASES[(method, template)]
    if callable(body):
        body = body(gateway)

    # When it is published
    answer = gateway.handle(request(path, method, body, request_id="17"), NOW)

    # Then it is answered with the documented status and a payload Moxa's schema of it accepts
    assert answer is not None
    status = SUCCESS.get((method, template), 200)
    assert (answer["request-id"], answer["state"]) == ("17", status), answer
    payload = answer["payload"]
    if (method, template) == ("GET", "/sparkplug/configuration"):
        # application/zip over HTTP: over MQTT the zip travels base64-encoded in {"data"}
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(payload["data"], validate=True))) as archive:
            assert json.loads(archive.read("sparkplug.json"))["config"]["groupID"] == "thingspro-edges"
    else:
        jsonschema.Draft7Validator(response_schema(method, template, status)).validate(payload)
    assert gateway.applied == [("17", method, path)]


def test_writes_are_read_back():
    # Given a gateway
    gateway = populated()

    # When an MQTT client's store-and-forward, a message group and the twin mapping are changed
    for path, method, body in [
        ("/mqtt/1/store-and-forward", "PUT", STORE_AND_FORWARD),
        ("/mqtt/1/messages/1", "PUT", {"outputTopic": "plant/1"}),
        ("/azure-device/twin/properties", "PUT", PROPERTIES),
    ]:
        assert gateway.call(method, path, body, NOW)[0] == 200

    # Then GET answers the new state, the fields not sent kept
    saf = gateway.call("GET", "/mqtt/1/store-and-forward", None, NOW)[1]["data"]
    assert (saf["enable"], saf["desiredDiskCacheSizeMB"], saf["dropBehavior"]) == (True, 16, "oldest")
    group = gateway.call("GET", "/mqtt/1/messages/1", None, NOW)[1]["data"]
    assert (group["outputTopic"], group["tags"]) == ("plant/1", GROUP["tags"])
    assert gateway.call("GET", "/azure-device/twin/properties", None, NOW)[1] == {"data": PROPERTIES}


def test_collections_grow_and_shrink_with_new_ids():
    gateway = populated()
    assert [g["id"] for g in gateway.call("POST", "/mqtt/1/messages", GROUP, NOW)[1]] == [1, 2]
    assert [g["id"] for g in gateway.call("DELETE", "/mqtt/1/messages/1", None, NOW)[1]] == [2]
    assert gateway.call("GET", "/mqtt/1/messages/1", None, NOW)[0] == 404
    clients = gateway.call("POST", "/mqtt", {"server": "b", "port": 1}, NOW)[1]["data"]
    assert [c["id"] for c in clients] == [1, 2]
    assert gateway.call("GET", "/mqtt/2/messages", None, NOW) == (200, [])


def test_sparkplug_messages_are_kept_by_type():
    gateway = populated()
    gateway.call("POST", "/sparkplug/messages?type=device", SPARKPLUG_GROUP, NOW)
    assert [g["id"] for g in gateway.call("GET", "/sparkplug/messages?type=node", None, NOW)[1]] == [1]
    assert [g["id"] for g in gateway.call("GET", "/sparkplug/messages?type=device", None, NOW)[1]] == [2]
    assert [g["id"] for g in gateway.call("GET", "/sparkplug/messages", None, NOW)[1]] == [1, 2]
    assert gateway.call("GET", "/sparkplug/messages?type=other", None, NOW)[0] == 400


def test_sparkplug_configuration_round_trips_through_its_zip():
    # Given a gateway whose Sparkplug configuration was exported
    gateway = populated()
    exported = _sparkplug_zip(gateway)

    # When the configuration is changed and the export imported again
    gateway.call("PUT", "/sparkplug", {"nodeID": "changed"}, NOW)
    gateway.call("DELETE", "/sparkplug/brokers/1", None, NOW)
    status, payload = gateway.call("PUT", "/sparkplug/configuration", exported, NOW)

    # Then the exported configuration is back, and the answer names the file and its size
    assert status == 200
    assert payload["data"] == {
        "filename": "sparkplug.zip",
        "filesize": len(base64.b64decode(exported["file"])),
    }
    config = gateway.call("GET", "/sparkplug", None, NOW)[1]["data"]
    assert config["nodeID"] == "thingspro-edge"
    assert [b["server"] for b in config["brokerList"]] == ["test.sparkplug.org"]


def test_a_file_that_is_no_sparkplug_zip_is_refused_in_the_documented_shape():
    gateway = populated()
    for file in ["not base64!", base64.b64encode(b"not a zip").decode()]:
        status, payload = gateway.call("PUT", "/sparkplug/configuration", {"file": file}, NOW)
        assert status == 400
        jsonschema.validate(payload, response_schema("PUT", "/sparkplug/configuration", 400))
        assert isinstance(payload["error"]["message"], str) and payload["error"]["code"] == 400


def test_azure_iotedge_reset_is_resetting_for_a_while_and_then_running():
    gateway = populated()
    gateway.call("PATCH", "/azure-iotedge", {"provisioning": {"enable": True}}, NOW)
    status, payload = gateway.call("PUT", "/azure-iotedge/reset", None, NOW)
    assert (status, payload["data"]["iotedge"]["status"]) == (202, "resetting")
    assert payload["data"]["provisioning"]["enable"] is False  # the app is reset to its defaults
    assert gateway.call("PUT", "/azure-iotedge/restart", None, NOW) == (
        400,
        {"error": "restart iotedge failed"},
    )
    later = gateway.call("GET", "/azure-iotedge", None, NOW + timedelta(seconds=30))[1]
    assert later["data"]["iotedge"]["status"] == "running"


# --------------------------------------------------------------------------- bodies
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/mqtt", {"server": "broker.example"}),  # port is required
        ("POST", "/mqtt", ["not", "an", "object"]),
        ("PUT", "/mqtt/1", {"port": "1883"}),  # a field keeps its type
        ("PUT", "/mqtt/1", {"tlsVersion": "2.0"}),  # not in the enumeration
        ("POST", "/mqtt/1/messages", {"enable": True, "tags": {}}),
        ("PUT", "/azure-device/twin/properties", {"device": {"general": [{"reportedPath": "general"}]}}),
        ("PUT", "/aws/shadow/clear", {"general": True}),
        ("PUT", "/sparkplug", {"groupID": "a/b"}),
        ("POST", "/sparkplug/brokers", {"server": "no port"}),
        ("PUT", "/mqtt/1/store-and-forward", {"dropBehavior": "random"}),
    ],
)
def test_a_body_that_breaks_the_schema_is_refused_and_not_applied(method: str, path: str, body: Any):
    gateway = populated()
    before = copy.deepcopy(gateway.state)
    answer = gateway.handle(request(path, method, body), NOW)
    assert answer is not None
    assert answer["state"] == 400
    assert answer["payload"]["error"]["code"] == 400 and answer["payload"]["error"]["message"]
    assert gateway.state == before
    assert gateway.applied == []


def test_azure_iotedge_errors_are_strings_as_its_document_declares():
    gateway = populated()
    status, payload = gateway.call("PATCH", "/azure-iotedge", {"provisioning": {"source": "dps"}}, NOW)
    assert status == 400
    jsonschema.validate(payload, response_schema("PATCH", "/azure-iotedge", 400))
    assert isinstance(payload["error"], str)
    status, payload = gateway.call("GET", "/azure-iotedge/messages/99", None, NOW)
    assert status == 400 and isinstance(payload["error"], str)
    status, payload = gateway.call("PUT", "/azure-iotedge/modules/nothing/restart", None, NOW)
    assert status == 400 and isinstance(payload["error"], str)


# --------------------------------------------------------------------------- the envelope
REFUSED_TIME = {
    "request-id": -1,
    "payload": {"code": 400, "message": "request time invalid(before now)"},
    "state": 400,
}


def test_an_expired_request_is_refused_and_never_applied():
    gateway = Gateway()
    answer = gateway.handle(
        request("/system/sshserver", "PUT", {"enable": False}, expires="2026-12-01 17:59:59"), NOW
    )
    assert answer == REFUSED_TIME
    assert gateway.state["system"]["sshserver"]["enable"] is True
    assert gateway.applied == []


def test_a_request_that_expires_now_is_still_run():
    gateway = Gateway()
    answer = gateway.handle(request("/system/sshserver", expires="2026-12-01 18:00:00"), NOW)
    assert answer == {"request-id": "1", "state": 200, "payload": {"data": {"enable": True, "port": 22}}}


@pytest.mark.parametrize(
    "headers",
    [
        [{"request-id": "1"}],  # no time
        [{"request-expired-time": "2026-12-01T18:45:26Z"}, {"request-id": "1"}],  # not Moxa's form
        [{"request-expired-time": 1796150726}, {"request-id": "1"}],
        "request-expired-time: 2026-12-01 18:45:26",
    ],
)
def test_a_request_without_a_valid_time_is_refused(headers: Any):
    message = json.dumps({"path": "/mqtt", "method": "GET", "headers": headers}).encode()
    gateway = Gateway()
    assert gateway.handle(message, NOW) == REFUSED_TIME
    assert gateway.applied == []


@pytest.mark.parametrize("request_id", ["abc", "1.5", "", 17, None])
def test_a_request_id_that_is_no_integer_string_is_refused(request_id: Any):
    message = json.dumps(
        {
            "path": "/mqtt",
            "method": "GET",
            "headers": [{"request-expired-time": LATER}, {"request-id": request_id}],
        }
    ).encode()
    answer = Gateway().handle(message, NOW)
    assert answer is not None
    assert (answer["request-id"], answer["state"], answer["payload"]["code"]) == (-1, 400, 400)
    assert answer["payload"]["message"] == "request id invalid"


@pytest.mark.parametrize(
    "message",
    [
        b"{not json",
        b"[1, 2]",
        b"\xff\xfe",
        json.dumps(
            {"method": "GET", "headers": [{"request-expired-time": LATER}, {"request-id": "1"}]}
        ).encode(),
        json.dumps(
            {"path": "/mqtt", "headers": [{"request-expired-time": LATER}, {"request-id": "1"}]}
        ).encode(),
    ],
)
def test_a_malformed_request_gets_the_documented_400_shape(message: bytes):
    answer = Gateway().handle(message, NOW)
    assert answer is not None
    assert set(answer) == {"request-id", "payload", "state"}
    assert (answer["request-id"], answer["state"], answer["payload"]["code"]) == (-1, 400, 400)
    assert isinstance(answer["payload"]["message"], str)


def test_an_empty_message_is_dropped():
    assert Gateway().handle(b"", NOW) is None


@pytest.mark.parametrize("path", ["/api/v1/mqtt", "/nothing", "/mqtt/1/nothing"])
def test_an_unknown_path_is_page_not_found(path: str):
    answer = Gateway().handle(request(path, request_id="9"), NOW)
    assert answer == {
        "request-id": "9",
        "payload": {"error": {"code": 404, "message": "page not found"}},
        "state": 404,
    }


def test_a_known_path_with_another_method_is_not_allowed():
    answer = Gateway().handle(request("/mqtt", "PATCH", {}), NOW)
    assert answer is not None and answer["state"] == 405


def test_a_duplicate_request_id_is_answered_again_and_not_applied_twice():
    # Given a gateway that ran request 5
    gateway = populated()
    first = gateway.handle(request("/mqtt", "POST", {"server": "b", "port": 1}, request_id="5"), NOW)

    # When request 5 comes again (even with another body)
    again = gateway.handle(request("/mqtt", "POST", {"server": "c", "port": 2}, request_id="5"), NOW)

    # Then it gets the same answer, and only one client was added
    assert again == first
    assert [c["server"] for c in gateway.state["mqtt"]["clients"]] == ["broker.example", "b"]
    assert gateway.applied == [("5", "POST", "/mqtt")]
    # and another id runs
    gateway.handle(request("/mqtt", "POST", {"server": "c", "port": 2}, request_id="6"), NOW)
    assert len(gateway.state["mqtt"]["clients"]) == 3


def test_payload_as_string_answers_the_same_payload_json_encoded():
    plain, stringly = populated(), populated()
    stringly.payload_as_string = True
    for message in [
        request("/mqtt/1/store-and-forward"),
        request("/nothing"),
        request("/mqtt", expires="2000-01-01 00:00:00"),
    ]:
        expected, answer = plain.handle(message, NOW), stringly.handle(message, NOW)
        assert expected is not None and answer is not None
        assert isinstance(answer["payload"], str)
        assert json.loads(answer["payload"]) == expected["payload"]
        assert {**answer, "payload": None} == {**expected, "payload": None}


def test_beyond_the_cloud_api_ssh_server_and_tag_writes():
    gateway = populated()
    assert gateway.handle(request("/system/sshserver", "PUT", {"enable": False, "port": 2222}), NOW) == {
        "request-id": "1",
        "state": 200,
        "payload": {"data": {"enable": False, "port": 2222}},
    }
    write = {
        "prvdName": "modbus",
        "srcName": "myDevice1",
        "tagName": "di0",
        "dataType": "uint16",
        "dataValue": 7,
    }
    answer = gateway.handle(
        request("/modbusmaster/operate/direct-write-tag", "PUT", write, request_id="2"), NOW
    )
    assert answer == {"request-id": "2", "payload": {}, "state": 200}
    (_, payload), = gateway.publications(NOW)  # fmt: skip
    assert json.loads(payload)["tags"]["modbus"]["myDevice1"]["di0"]["values"][0]["value"] == 7
    missing = gateway.handle(
        request("/modbusmaster/operate/direct-write-tag", "PUT", {"prvdName": "m"}, "3"), NOW
    )
    assert missing is not None and missing["state"] == 400


# --------------------------------------------------------------------------- message groups
def test_an_enabled_group_publishes_the_default_format_to_its_topic():
    gateway = populated()
    gateway.call("PUT", "/mqtt/1/messages/1", {"outputTopic": "plant/line1"}, NOW)
    when = NOW + timedelta(milliseconds=1500)

    (topic, payload), = gateway.publications(when)  # fmt: skip

    assert topic == "plant/line1"
    message = json.loads(payload)
    assert set(message["tags"]["modbus"]["myDevice1"]) == {"di0", "di1"}
    for name in ("di0", "di1"):
        (value,) = message["tags"]["modbus"]["myDevice1"][name]["values"]
        assert value["updateTimeStamp"] == "2026-12-01T18:00:01Z"  # todateiso8601 of ts (ms) / 1000
        assert value["value"] == tags.simulated_value("modbus", "myDevice1", name, when)


def test_records_carry_the_time_in_milliseconds():
    record = tags.record({}, "modbus", "d", "t", NOW)
    assert record["ts"] == int(NOW.timestamp()) * 1000
    assert set(record) == {"prvdName", "srcName", "tagName", "dataType", "dataValue", "ts"}


def test_simulated_values_are_counters_or_sines_that_change_with_time():
    names = [f"tag{i}" for i in range(8)]
    counters = [n for n in names if isinstance(tags.simulated_value("p", "s", n, NOW), int)]
    sines = [n for n in names if n not in counters]
    assert counters and sines
    later = NOW + timedelta(seconds=7)
    for name in counters:
        assert tags.simulated_value("p", "s", name, later) == tags.simulated_value("p", "s", name, NOW) + 7
    for name in sines:
        assert 0 <= tags.simulated_value("p", "s", name, NOW) <= 100
        assert tags.simulated_value("p", "s", name, later) != tags.simulated_value("p", "s", name, NOW)


def test_disabled_groups_and_clients_publish_nothing():
    gateway = populated()
    gateway.call("POST", "/mqtt/1/messages", {**GROUP, "outputTopic": "second"}, NOW)
    gateway.call("PUT", "/mqtt/1/messages/1", {"enable": False}, NOW)
    assert [topic for topic, _ in gateway.publications(NOW)] == ["second"]
    gateway.call("PUT", "/mqtt/1", {"enable": False}, NOW)
    assert gateway.publications(NOW) == []


def test_a_group_with_a_custom_format_is_skipped_without_jq(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(tags, "_jq", None)
    gateway = populated()
    gateway.call(
        "POST",
        "/mqtt/1/messages",
        {**GROUP, "outputTopic": "custom", "format": "{(.tagName): .dataValue}"},
        NOW,
    )
    assert [topic for topic, _ in gateway.publications(NOW)] == ["sample"]
    status, payload = gateway.call(
        "PUT", "/mqtt/1/messages/test", {"format": ".", "tags": TEST_TAGS["tags"]}, NOW
    )
    assert status == 200 and payload["data"] == {} and payload["error"]


def test_the_test_operation_applies_the_default_format():
    status, payload = populated().call("PUT", "/aws/messages/test", TEST_TAGS, NOW)
    assert status == 200
    (value,) = payload["data"]["tags"]["test"]["system"]["cpuUsage"]["values"]
    assert value == {
        "updateTimeStamp": "2026-12-01T18:00:00Z",
        "value": tags.simulated_value("test", "system", "cpuUsage", NOW),
    }


# ------------------------------------------------------------------ the client's and module's settings
def test_tls_follows_the_configuration():
    strict = client.tls_context({"tlsVersion": "1.3"})
    assert (strict.minimum_version, strict.verify_mode, strict.check_hostname) == (
        ssl.TLSVersion.TLSv1_3,
        ssl.CERT_REQUIRED,
        True,
    )
    loose = client.tls_context({"insecureSkipVerify": True})
    assert (loose.minimum_version, loose.verify_mode, loose.check_hostname) == (
        ssl.TLSVersion.TLSv1_2,
        ssl.CERT_NONE,
        False,
    )


def test_the_client_speaks_mqtt_3_1_1_unless_told_3_1():
    assert client.mqtt_client({"clientID": "a"}).protocol == paho.MQTTv311
    assert client.mqtt_client({"clientID": "a", "protocolVersion": "3.1"}).protocol == paho.MQTTv31


def test_the_remote_api_needs_both_topics_and_defaults_to_qos_1():
    with pytest.raises(ValueError, match="requestSubTopic"):
        client.remote_api({"remoteAPI": {"requestSubTopic": "a"}})
    settings = client.remote_api({"remoteAPI": {"requestSubTopic": "a", "responsePubTopic": "b"}})
    assert (settings["qos"], settings["retain"]) == (1, False)


def test_a_request_is_described_for_the_log_without_its_body():
    assert client.describe(request("/system/sshserver", "put", {"password": "x"})) == (
        "PUT",
        "/system/sshserver",
    )
    assert client.describe(b"{nope") == ("-", "-")


def test_the_flags_set_the_configuration_over_the_file(tmp_path: Path):
    config_file = tmp_path / "mqtt.json"
    config_file.write_text(json.dumps({**MQTT_CLIENT, "password": "from-file"}))
    args = cli.parser().parse_args(
        ["--config", str(config_file), "--port", "8883", "--tls", "--password", "p", "--request-topic", "req"]
    )
    config = cli.configuration(args)
    assert (config["server"], config["port"], config["certificateOverTLS"], config["password"]) == (
        "broker.example",
        8883,
        True,
        "p",
    )
    assert config["remoteAPI"]["requestSubTopic"] == "req"
    assert config["remoteAPI"]["responsePubTopic"] == "/r"
    with pytest.raises(SystemExit, match="port"):
        cli.configuration(cli.parser().parse_args(["--server", "x"]))
