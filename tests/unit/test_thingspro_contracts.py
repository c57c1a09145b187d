"""The ThingsPro Cloud API contracts (``fleetgate.contracts.thingspro``) held to Moxa's own OpenAPI
document (``tests/fixtures/thingspro-cloud-openapi-2.4.0.yaml``): the operations and their table, the
request bodies Moxa's examples send, each rule a bad body breaks, and the masking of secrets."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from fleetgate.contracts.thingspro import (
    MASK,
    OPERATIONS,
    SECRET_FIELDS,
    Operation,
    is_live,
    mask,
    match,
    operation,
    secret_paths,
    validate,
    validate_params,
)
from fleetgate.errors import InvalidRequest

DOCUMENT = Path(__file__).resolve().parents[1] / "fixtures" / "thingspro-cloud-openapi-2.4.0.yaml"
METHODS = ("get", "put", "post", "delete", "patch")


@cache
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text())
    return loaded


def resolve(node: Any) -> Any:
    """``node`` with its ``$ref`` followed (one level) and ``allOf`` merged (properties only)."""
    if isinstance(node, dict) and "$ref" in node:
        target: Any = doc()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return resolve(target)
    if isinstance(node, dict) and "allOf" in node:
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        for part in node["allOf"]:
            merged["properties"].update(resolve(part).get("properties", {}))
        return merged
    return node


def doc_operations() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for path, item in doc()["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method], item


def doc_op(op: Operation) -> dict[str, Any]:
    entry: dict[str, Any] = doc()["paths"][op.path][op.method.lower()]
    return entry


def success(entry: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status = next(s for s in entry["responses"] if 200 <= int(s) < 300)
    return int(status), entry["responses"][status]


def answer_schema(entry: dict[str, Any]) -> Any:
    _, answer = success(entry)
    return next(iter(answer["content"].values())).get("schema")


def ids(op: Operation) -> str:
    return f"{op.method} {op.path}"


# --------------------------------------------------------------------------- the operation table
def test_the_operations_are_exactly_the_87_of_moxas_document() -> None:
    # Given the (method, path) pairs of Moxa's document and of the contracts
    documented = [(m, p) for m, p, _, _ in doc_operations()]
    ours = [(op.method, op.path) for op in OPERATIONS]
    # Then they are the same 87, each once
    assert len(documented) == 87
    assert len(ours) == len(set(ours)) == 87
    assert set(ours) == set(documented)


@pytest.mark.parametrize("op", OPERATIONS, ids=ids)
def test_the_summary_is_moxas_description(op: Operation) -> None:
    entry = doc_op(op)
    assert op.summary == (entry.get("description") or entry["summary"]).strip()


@pytest.mark.parametrize("op", OPERATIONS, ids=ids)
def test_the_answer_kind_agrees_with_the_document(op: Operation) -> None:
    # Given the operation's successful answer in Moxa's document
    status, answer = success(doc_op(op))
    media = next(iter(answer["content"]))
    schema = answer["content"][media]["schema"]
    # Then zip, a 202, a bare array or {data} is what the contracts say
    expected = (
        "zip"
        if media == "application/zip"
        else "accepted"
        if status == 202
        else "bare"
        if schema.get("type") == "array"
        else "data"
    )
    assert op.answer == expected
    if expected in {"data", "accepted"}:
        assert "data" in schema["properties"]


@pytest.mark.parametrize("op", OPERATIONS, ids=ids)
def test_the_error_body_is_the_one_its_400_declares(op: Operation) -> None:
    declared = doc_op(op)["responses"].get(400)
    if declared is None:
        expected = "core"
    else:
        error = declared["content"]["application/json"]["schema"]["properties"]["error"]
        expected = "text" if error.get("type") == "string" else "core"
        if expected == "core":
            assert set(error["properties"]) == {"code", "message"}
    assert op.errors == expected


@pytest.mark.parametrize("op", OPERATIONS, ids=ids)
def test_the_bodies_a_form_and_json_agree_with_the_document(op: Operation) -> None:
    content = doc_op(op).get("requestBody", {}).get("content", {})
    form = resolve(content["multipart/form-data"]["schema"]) if "multipart/form-data" in content else {}
    fields = tuple(
        name for name, prop in form.get("properties", {}).items() if not resolve(prop).get("readOnly")
    )
    assert op.multipart == fields
    assert op.json_body == ("application/json" in content)
    assert (op.body is not None) == op.json_body


@pytest.mark.parametrize("op", OPERATIONS, ids=ids)
def test_the_query_and_header_parameters_are_moxas(op: Operation) -> None:
    entry, item = doc_op(op), doc()["paths"][op.path]
    params = [*item.get("parameters", []), *entry.get("parameters", [])]
    query = {p["name"]: p["schema"] for p in params if p["in"] == "query"}
    assert {q.name: q.type for q in op.query} == {n: s["type"] for n, s in query.items()}
    assert {q.name: q.enum for q in op.query} == {n: tuple(s.get("enum", ())) for n, s in query.items()}
    assert op.header_params == tuple(p["name"] for p in params if p["in"] == "header")
    path_params = {p["name"] for p in params if p["in"] == "path"}
    assert path_params == {s[1:-1] for s in op.segments if s.startswith("{")}


@pytest.mark.parametrize("op", OPERATIONS, ids=ids)
def test_live_are_the_runtime_reads(op: Operation) -> None:
    assert op.live == op.path.endswith(("/monitor", "/check"))


def derived_resource(method: str, path: str, entry: dict[str, Any]) -> str | None:
    """The rule the table follows: a write whose successful answer is the answer of GET on its own path
    (PUT, PATCH), or for POST and DELETE on its own path or its parent's (the collection)."""
    if method == "GET":
        return None
    paths = doc()["paths"]
    mine = answer_schema(entry)
    parent = path.rsplit("/", 1)[0]
    candidates = [path, parent] if method in ("POST", "DELETE") else [path]
    for candidate in candidates:
        if "get" in paths.get(candidate, {}) and answer_schema(paths[candidate]["get"]) == mine:
            return candidate
    return None


@pytest.mark.parametrize("op", OPERATIONS, ids=ids)
def test_the_resource_an_answer_replaces_follows_from_the_document(op: Operation) -> None:
    assert op.resource == derived_resource(op.method, op.path, doc_op(op))


def test_the_resource_rule_is_not_vacuous() -> None:
    # some writes replace their own GET, some their collection's, some none
    resources = {(op.method, op.path): op.resource for op in OPERATIONS}
    assert resources["PUT", "/aws"] == "/aws"
    assert resources["DELETE", "/mqtt/{id}/messages/{group_id}"] == "/mqtt/{id}/messages"
    assert resources["POST", "/azure-iotedge/certificates"] == "/azure-iotedge"
    assert resources["PUT", "/mqtt/{id}"] is None  # no GET /mqtt/{id}
    assert resources["PUT", "/azure-iotedge/reset"] is None  # a PUT replaces only its own GET


# --------------------------------------------------------------------------- match
@pytest.mark.parametrize(
    ("method", "path", "template", "params"),
    [
        ("GET", "/mqtt/monitor", "/mqtt/monitor", {}),
        ("PUT", "/mqtt/check", "/mqtt/check", {}),
        ("PUT", "/mqtt/7", "/mqtt/{id}", {"id": "7"}),
        ("PUT", "/mqtt/1/messages/test", "/mqtt/{id}/messages/test", {"id": "1"}),
        ("PUT", "/mqtt/1/messages/2", "/mqtt/{id}/messages/{group_id}", {"id": "1", "group_id": "2"}),
        ("PUT", "/azure-device/messages/test", "/azure-device/messages/test", {}),
        ("PUT", "/azure-device/messages/3", "/azure-device/messages/{id}", {"id": "3"}),
        ("put", "/azure-iotedge/modules/edgeHub/restart", "/azure-iotedge/modules/{name}/restart", {}),
        ("GET", "/sparkplug", "/sparkplug", {}),
    ],
)
def test_match_prefers_literal_segments(
    method: str, path: str, template: str, params: dict[str, str]
) -> None:
    found = match(method, path)
    assert found is not None
    op, values = found
    assert (op.method, op.path) == (method.upper(), template)
    if params:
        assert values == params


def test_match_gives_the_module_name() -> None:
    found = match("PUT", "/azure-iotedge/modules/edgeHub/restart")
    assert found is not None
    assert found[1] == {"name": "edgeHub"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/mqtt/1"),  # no GET /mqtt/{id}
        ("PATCH", "/mqtt"),
        ("GET", "/nothing"),
        ("GET", "/mqtt/"),
        ("GET", "mqtt"),
        ("PUT", "/mqtt//messages/1"),
        ("GET", "/mqtt/1/messages/2/extra"),
    ],
)
def test_match_finds_nothing_where_moxa_has_no_operation(method: str, path: str) -> None:
    assert match(method, path) is None


def test_a_literal_of_another_method_does_not_hide_a_param() -> None:
    # DELETE has no /mqtt/monitor: the path is DELETE /mqtt/{id}, whose id then fails validation
    found = match("DELETE", "/mqtt/monitor")
    assert found is not None
    assert found[0].path == "/mqtt/{id}"
    with pytest.raises(InvalidRequest, match="id: must be an integer of at least 1"):
        validate_params(found[0], found[1])


@pytest.mark.parametrize("op", OPERATIONS, ids=ids)
def test_every_operation_is_found_by_a_concrete_path(op: Operation) -> None:
    concrete = "/" + "/".join("5" if s.startswith("{") else s for s in op.segments)
    found = match(op.method, concrete)
    assert found is not None
    assert found[0] is op
    # and its path parameters are ones validate_params knows
    values, _ = validate_params(op, found[1])
    assert set(values) == set(found[1])


# --------------------------------------------------------------------------- parameters
def test_path_ids_are_integers_of_at_least_1() -> None:
    op = operation("PUT", "/mqtt/{id}/messages/{group_id}")
    assert validate_params(op, {"id": "1", "group_id": "42"}) == ({"id": 1, "group_id": 42}, {})
    for bad in ("0", "-1", "x", "1.5", "", "01", str(2**63)):
        with pytest.raises(InvalidRequest, match="group_id: must be an integer of at least 1"):
            validate_params(op, {"id": "1", "group_id": bad})


def test_path_parameters_must_be_those_of_the_template() -> None:
    op = operation("PUT", "/mqtt/{id}")
    with pytest.raises(InvalidRequest, match="path parameters"):
        validate_params(op, {})
    with pytest.raises(InvalidRequest, match="path parameters"):
        validate_params(op, {"id": "1", "group_id": "2"})


def test_a_module_name_is_1_to_255_characters_without_a_slash() -> None:
    op = operation("PUT", "/azure-iotedge/modules/{name}/restart")
    assert validate_params(op, {"name": "edgeAgent"}) == ({"name": "edgeAgent"}, {})
    assert validate_params(op, {"name": "m" * 255})[0] == {"name": "m" * 255}
    for bad in ("", "m" * 256, "a/b"):
        with pytest.raises(InvalidRequest, match="name: must be 1 to 255 characters"):
            validate_params(op, {"name": bad})


def test_query_parameters_are_typed_and_unknown_ones_refused() -> None:
    sparkplug = operation("GET", "/sparkplug")
    assert validate_params(sparkplug, {}, {"event": "true"}) == ({}, {"event": True})
    assert validate_params(sparkplug, {}, {"event": "false"}) == ({}, {"event": False})
    with pytest.raises(InvalidRequest, match="event: must be true or false"):
        validate_params(sparkplug, {}, {"event": "1"})
    with pytest.raises(InvalidRequest, match="other: is not a query parameter"):
        validate_params(sparkplug, {}, {"other": "1"})
    groups = operation("POST", "/sparkplug/messages")
    assert validate_params(groups, {}, {"type": "device"}) == ({}, {"type": "device"})
    with pytest.raises(InvalidRequest, match="type: must be one of node, device"):
        validate_params(groups, {}, {"type": "edge"})
    with pytest.raises(InvalidRequest, match="is not a query parameter"):
        validate_params(operation("GET", "/mqtt"), {}, {"event": "true"})


def test_get_sparkplug_is_live_only_with_event_true() -> None:
    sparkplug = operation("GET", "/sparkplug")
    assert not sparkplug.live
    assert not is_live(sparkplug, {})
    assert not is_live(sparkplug, {"event": "false"})
    assert is_live(sparkplug, {"event": "true"})
    assert not is_live(sparkplug, {"event": "TRUE"})  # refused by validate_params, so not live either
    assert is_live(operation("GET", "/aws/monitor"), {})
    assert not is_live(operation("GET", "/aws"), {"event": "true"})


# --------------------------------------------------------------------------- Moxa's examples
def request_examples() -> Iterator[tuple[str, Any]]:
    for method, path, entry, _ in doc_operations():
        media = entry.get("requestBody", {}).get("content", {})
        if "application/json" not in media:
            continue
        # the JSON examples, and those Moxa put under the form of an operation that also takes JSON
        # (POST /sparkplug/brokers): the form's fields are the JSON body's
        for content in media.values():
            if "example" in content:
                yield f"{method} {path}", content["example"]
            for name, example in content.get("examples", {}).items():
                yield f"{method} {path} {name}", example["value"]


REQUEST_EXAMPLES = list(request_examples())


def test_the_request_examples_are_all_collected() -> None:
    # 25 in Moxa's document: 24 JSON ones and the broker under POST /sparkplug/brokers' form
    assert len(REQUEST_EXAMPLES) == 25


# Moxa's request examples that break Moxa's own schema, and where: the schema is followed (what the
# gateway is sent, it answers, and its answer is held to the schema), so these are refused
AGAINST_THE_SCHEMA = {
    "PATCH /azure-iotedge provisioning-dps-x509": "provisioning.registrationId: must not be empty",
    "PUT /sparkplug/properties": "selections.device: must be an array",
}


@pytest.mark.parametrize(("key", "example"), REQUEST_EXAMPLES, ids=[k for k, _ in REQUEST_EXAMPLES])
def test_every_request_example_of_moxa_validates_but_those_against_its_schema(key: str, example: Any) -> None:
    method, path = key.split(" ")[:2]
    refused = next((rule for name, rule in AGAINST_THE_SCHEMA.items() if key.startswith(name)), None)
    if refused is not None:
        with pytest.raises(InvalidRequest, match=re.escape(refused)):
            validate(operation(method, path), example)
        return
    cleaned = validate(operation(method, path), example)
    assert cleaned == example  # Moxa's request examples carry no read-only field


def test_the_examples_against_the_schema_are_there() -> None:
    keys = [k for k, _ in REQUEST_EXAMPLES]
    assert all(any(k.startswith(name) for k in keys) for name in AGAINST_THE_SCHEMA), keys


# the examples of the schemas a request sends (what a gateway answers and a client may send back)
SCHEMA_EXAMPLES = [
    ("POST", "/mqtt", "MQTTConfiguration"),
    ("PUT", "/mqtt/{id}/store-and-forward", "StoreAndForward"),
    ("PUT", "/sparkplug/store-and-forward", "StoreAndForwardWithBulkUpload"),
    ("POST", "/mqtt/{id}/messages", "MessagePolicy"),
    ("PUT", "/azure-device", "AzureIoTDeviceConfiguration"),
    ("PUT", "/aws", "AwsIoTCoreConfiguration"),
    ("PUT", "/sparkplug", "SparkplugConfiguration"),
    ("POST", "/sparkplug/brokers", "SparkplugBrokerConfiguration"),
    ("PUT", "/aws/shadow/properties", "DeviceProperties"),
]


@pytest.mark.parametrize(("method", "path", "schema"), SCHEMA_EXAMPLES)
def test_the_example_of_each_request_schema_validates(method: str, path: str, schema: str) -> None:
    example = doc()["components"]["schemas"][schema]["example"]
    validate(operation(method, path), example)


@pytest.mark.parametrize("name", sorted(yaml.safe_load(DOCUMENT.read_text())["components"]["examples"]))
def test_the_message_group_examples_validate_without_their_read_only_fields(name: str) -> None:
    example = doc()["components"]["examples"][name]["value"]
    cleaned = validate(operation("POST", "/aws/messages"), example)
    assert cleaned == {k: v for k, v in example.items() if k not in ("id", "onChange")}


def test_the_sparkplug_message_group_follows_its_schema_not_its_example() -> None:
    # Moxa's example of SparkplugMessagePolicy has properties: [], a field its schema does not have
    example = doc()["components"]["schemas"]["SparkplugMessagePolicy"]["example"]
    op = operation("POST", "/sparkplug/messages")
    with pytest.raises(InvalidRequest, match="properties: is not a field of this body"):
        validate(op, example)
    without = {k: v for k, v in example.items() if k != "properties"}
    assert validate(op, without) == {k: v for k, v in without.items() if k not in ("id", "onChange")}


# --------------------------------------------------------------------------- what is cleaned
def test_defaults_are_not_filled_in() -> None:
    assert validate(operation("POST", "/mqtt"), {"server": "broker", "port": 1883}) == {
        "server": "broker",
        "port": 1883,
    }
    assert validate(operation("PATCH", "/azure-iotedge"), {}) == {}
    assert validate(operation("PATCH", "/azure-iotedge"), {"provisioning": {}}) == {"provisioning": {}}


@pytest.mark.parametrize(
    ("method", "path", "body", "cleaned"),
    [
        (
            "PUT",
            "/mqtt/{id}",
            {"id": 1, "status": "connected", "server": "s", "port": 1},
            {"server": "s", "port": 1},
        ),
        (
            "PUT",
            "/aws/store-and-forward",
            {"enable": True, "disks": [{"name": "System", "total": 1}]},
            {"enable": True},
        ),
        (
            "PUT",
            "/sparkplug",
            {"nodeID": "n", "groupID": "g", "brokerList": [{"id": 1, "password": "p"}]},
            {"nodeID": "n", "groupID": "g"},
        ),
        (
            "PATCH",
            "/azure-iotedge",
            {
                "iotedge": {"status": "running", "modules": []},
                "provisioning": {"endorsementKey": "k", "enable": True},
                "downstreamCerts": {"mode": "user", "certificateInfo": {"issuer": "x"}},
            },
            {"provisioning": {"enable": True}, "downstreamCerts": {"mode": "user"}},
        ),
        (
            "PUT",
            "/sparkplug/brokers/{id}",
            {
                "id": 2,
                "status": "connected",
                "lastConectedTime": "t",
                "lastConnectedTime": "t",
                "server": "s",
                "port": 1,
            },
            {"server": "s", "port": 1},
        ),
        (
            "PUT",
            "/sparkplug/brokers",
            [{"id": 2, "server": "s", "port": 1}, {"server": "t", "port": 2}],
            [{"server": "s", "port": 1}, {"server": "t", "port": 2}],
        ),
        (
            "PUT",
            "/azure-device",
            {"status": "connected", "provisioning": {"protocol": {"protocol": "amqp", "port": 5671}}},
            {"provisioning": {"protocol": {"protocol": "amqp"}}},
        ),
        (
            "PUT",
            "/aws/messages/{id}",
            {
                "id": 3,
                "onChange": True,
                "enable": False,
                "tags": {},
                "outputTopic": "t",
                "sendOutThreshold": {},
            },
            {"enable": False, "tags": {}, "outputTopic": "t", "sendOutThreshold": {}},
        ),
    ],
)
def test_read_only_fields_are_accepted_and_dropped(method: str, path: str, body: Any, cleaned: Any) -> None:
    original = copy.deepcopy(body)
    assert validate(operation(method, path), body) == cleaned
    assert body == original  # the request's own body is left as it came


def test_a_json_integer_may_have_a_zero_fraction() -> None:
    cleaned = validate(operation("POST", "/mqtt"), {"server": "s", "port": 1883.0, "keepAliveSec": 60.0})
    assert cleaned == {"server": "s", "port": 1883, "keepAliveSec": 60}


def test_an_operation_without_a_json_body_takes_none() -> None:
    assert validate(operation("PUT", "/aws/shadow/reported"), None) is None
    with pytest.raises(InvalidRequest, match="takes no JSON body"):
        validate(operation("PUT", "/aws/shadow/reported"), {})
    with pytest.raises(InvalidRequest, match="takes no JSON body"):
        validate(operation("POST", "/azure-device"), {"connectionString": "x"})  # a form only


def test_a_json_body_is_required_where_moxa_requires_one() -> None:
    with pytest.raises(InvalidRequest, match="body: is required"):
        validate(operation("PUT", "/aws/shadow/clear"), None)


# --------------------------------------------------------------------------- each rule, each schema
MQTT = {"server": "broker", "port": 1883}
BROKER = {"server": "broker", "port": 1883}
GROUP = {"enable": True, "tags": {"modbus": {"dev": ["di0"]}}, "outputTopic": "t", "sendOutThreshold": {}}
SP_GROUP = {"enable": True, "tags": {"modbus": {"dev": ["di0"]}}, "sendOutThreshold": {}}
SPARKPLUG = {"nodeID": "node", "groupID": "group"}
MAPPING = {"device": {"general": [{"reportedPath": "general", "desiredPath": "general"}]}}


def put(base: Any, where: tuple[str | int, ...], value: Any) -> Any:
    """A copy of ``base`` with ``value`` at ``where`` (``...`` as value removes the key)."""
    out = copy.deepcopy(base)
    node = out
    for step in where[:-1]:
        node = node.setdefault(step, {}) if isinstance(node, dict) else node[step]
    if value is ...:
        del node[where[-1]]
    else:
        node[where[-1]] = value
    return out


BAD: list[tuple[str, str, Any, str]] = [
    # MQTTConfiguration
    ("POST", "/mqtt", put(MQTT, ("port",), "1883"), "port: must be an integer"),
    ("POST", "/mqtt", put(MQTT, ("port",), True), "port: must be an integer"),
    ("POST", "/mqtt", put(MQTT, ("port",), 1883.5), "port: must be an integer"),
    ("POST", "/mqtt", put(MQTT, ("port",), None), "port: must be an integer"),
    ("POST", "/mqtt", put(MQTT, ("enable",), 1), "enable: must be a boolean"),
    ("POST", "/mqtt", put(MQTT, ("enable",), "true"), "enable: must be a boolean"),
    ("POST", "/mqtt", put(MQTT, ("server",), 1), "server: must be a string"),
    ("POST", "/mqtt", put(MQTT, ("server",), ...), "server: is required"),
    ("POST", "/mqtt", put(MQTT, ("port",), ...), "port: is required"),
    ("POST", "/mqtt", put(MQTT, ("keepAliveSec",), 9), "keepAliveSec: must be at least 10"),
    ("POST", "/mqtt", put(MQTT, ("keepAliveSec",), 65537), "keepAliveSec: must be at most 65536"),
    ("POST", "/mqtt", put(MQTT, ("handshakeTimeout",), 601), "handshakeTimeout: must be at most 600"),
    ("POST", "/mqtt", put(MQTT, ("retryInterval",), 9), "retryInterval: must be at least 10"),
    ("POST", "/mqtt", put(MQTT, ("userName",), "u" * 256), "userName: must be at most 255 characters"),
    ("POST", "/mqtt", put(MQTT, ("password",), "p" * 256), "password: must be at most 255 characters"),
    ("POST", "/mqtt", put(MQTT, ("clientID",), "c" * 65537), "clientID: must be at most 65536 characters"),
    (
        "POST",
        "/mqtt",
        {**MQTT, "protocolVersion": "3.1", "clientID": "c" * 24},
        "clientID: must be at most 23 characters with MQTT 3.1",
    ),
    ("POST", "/mqtt", put(MQTT, ("protocolVersion",), 3.1), "protocolVersion: must be one of"),
    ("POST", "/mqtt", put(MQTT, ("protocolVersion",), "5"), "protocolVersion: must be one of"),
    ("POST", "/mqtt", put(MQTT, ("tlsVersion",), 1.2), "tlsVersion: must be one of"),
    ("POST", "/mqtt", put(MQTT, ("qos",), 3), "qos: must be at most 2"),
    ("POST", "/mqtt", put(MQTT, ("ttl",), 60), "ttl: is not a field of this body"),
    ("POST", "/mqtt", put(MQTT, ("certificate", "caPkFile"), 1), "certificate.caPkFile: must be a string"),
    ("POST", "/mqtt", put(MQTT, ("certificate", "key"), "k"), "certificate.key: is not a field"),
    ("POST", "/mqtt", put(MQTT, ("willMessage", "topic"), ""), "willMessage.topic: must not be empty"),
    ("POST", "/mqtt", put(MQTT, ("willMessage", "retain"), 0), "willMessage.retain: must be a boolean"),
    (
        "PUT",
        "/mqtt/{id}",
        put(MQTT, ("remoteAPI", "requestSubTopic"), "t" * 65537),
        "remoteAPI.requestSubTopic: must be at most 65536 characters",
    ),
    ("PUT", "/mqtt/{id}", put(MQTT, ("remoteAPI", "ttl"), "60"), "remoteAPI.ttl: must be an integer"),
    ("PUT", "/mqtt/{id}", put(MQTT, ("remoteAPI", "qos"), -1), "remoteAPI.qos: must be at least 0"),
    ("PUT", "/mqtt/{id}", [MQTT], "body: must be an object"),
    # StoreAndForward, StoreAndForwardWithBulkUpload
    ("PUT", "/aws/store-and-forward", {"dropBehavior": "middle"}, "dropBehavior: must be one of"),
    ("PUT", "/aws/store-and-forward", {"timeToLiveSec": "7200"}, "timeToLiveSec: must be an integer"),
    ("PUT", "/aws/store-and-forward", {"bulkUpload": {}}, "bulkUpload: is not a field"),
    ("PUT", "/aws/store-and-forward", {"disks": {}}, "disks: must be an array"),
    ("PUT", "/sparkplug/store-and-forward", {"bulkUpload": {"enable": True}}, "bulkUpload.size: is required"),
    ("PUT", "/sparkplug/store-and-forward", {"bulkUpload": {"size": 128}}, "bulkUpload.enable: is required"),
    (
        "PUT",
        "/sparkplug/store-and-forward",
        {"bulkUpload": {"enable": True, "size": 0}},
        "bulkUpload.size: must be at least 1",
    ),
    (
        "PUT",
        "/sparkplug/store-and-forward",
        {"bulkUpload": {"enable": True, "size": 1025}},
        "bulkUpload.size: must be at most 1024",
    ),
    # MessagePolicy
    ("POST", "/mqtt/{id}/messages", put(GROUP, ("enable",), ...), "enable: is required"),
    ("POST", "/mqtt/{id}/messages", put(GROUP, ("tags",), ...), "tags: is required"),
    ("POST", "/mqtt/{id}/messages", put(GROUP, ("outputTopic",), ...), "outputTopic: is required"),
    ("POST", "/mqtt/{id}/messages", put(GROUP, ("sendOutThreshold",), ...), "sendOutThreshold: is required"),
    ("POST", "/mqtt/{id}/messages", put(GROUP, ("outputTopic",), ""), "outputTopic: must not be empty"),
    (
        "POST",
        "/mqtt/{id}/messages",
        put(GROUP, ("description",), "d" * 1025),
        "description: must be at most 1024",
    ),
    ("POST", "/mqtt/{id}/messages", put(GROUP, ("format",), "f" * 4097), "format: must be at most 4096"),
    (
        "POST",
        "/mqtt/{id}/messages",
        put(GROUP, ("minPublishInterval",), 61),
        "minPublishInterval: must be at most 60",
    ),
    (
        "POST",
        "/mqtt/{id}/messages",
        put(GROUP, ("pollingInterval",), -1),
        "pollingInterval: must be at least 0",
    ),
    (
        "POST",
        "/mqtt/{id}/messages",
        put(GROUP, ("pollingInterval",), 86401),
        "pollingInterval: must be at most 86400",
    ),
    ("POST", "/mqtt/{id}/messages", put(GROUP, ("samplingMode",), "some"), "samplingMode: must be one of"),
    (
        "POST",
        "/mqtt/{id}/messages",
        put(GROUP, ("customSamplingRate",), "false"),
        "customSamplingRate: must be a boolean",
    ),
    (
        "POST",
        "/mqtt/{id}/messages",
        put(GROUP, ("tags", "modbus", "dev"), [""]),
        "tags.modbus.dev[0]: must not be empty",
    ),
    (
        "POST",
        "/mqtt/{id}/messages",
        put(GROUP, ("tags", "modbus", "dev"), ["t" * 256]),
        "tags.modbus.dev[0]: must be at most 255",
    ),
    (
        "POST",
        "/mqtt/{id}/messages",
        put(GROUP, ("tags", "modbus"), ["di0"]),
        "tags.modbus: must be an object",
    ),
    (
        "POST",
        "/mqtt/{id}/messages",
        put(GROUP, ("properties",), [{"key": "k"}]),
        "properties[0].value: is required",
    ),
    (
        "POST",
        "/mqtt/{id}/messages",
        put(GROUP, ("properties",), [{"key": "", "value": "v"}]),
        "properties[0].key: must not be empty",
    ),
    (
        "PUT",
        "/aws/messages/{id}",
        put(GROUP, ("sendOutThreshold", "mode"), "bytime"),
        "sendOutThreshold.mode: must be one of",
    ),
    (
        "PUT",
        "/aws/messages/{id}",
        put(GROUP, ("sendOutThreshold", "time"), 86401),
        "sendOutThreshold.time: must be at most 86400",
    ),
    (
        "PUT",
        "/aws/messages/{id}",
        put(GROUP, ("sendOutThreshold", "size"), 262145),
        "sendOutThreshold.size: must be at most 262144",
    ),
    (
        "PUT",
        "/aws/messages/{id}",
        put(GROUP, ("sendOutThreshold", "size"), -1),
        "sendOutThreshold.size: must be at least 0",
    ),
    (
        "PUT",
        "/aws/messages/{id}",
        put(GROUP, ("sendOutThreshold", "sizeIdleTimer", "enable"), 1),
        "sendOutThreshold.sizeIdleTimer.enable: must be a boolean",
    ),
    (
        "PUT",
        "/aws/messages/{id}",
        put(GROUP, ("sendOutThreshold", "sizeIdleTimer", "time"), 86401),
        "sendOutThreshold.sizeIdleTimer.time: must be at most 86400",
    ),
    ("PUT", "/aws/messages/{id}", put(GROUP, ("onchange",), True), "onchange: is not a field"),
    # SparkplugMessagePolicy
    (
        "POST",
        "/sparkplug/messages",
        put(SP_GROUP, ("minPublishInterval",), 11),
        "minPublishInterval: must be at most 10",
    ),
    (
        "POST",
        "/sparkplug/messages",
        put(SP_GROUP, ("sendOutThreshold", "time"), 0),
        "sendOutThreshold.time: must be at least 1",
    ),
    (
        "POST",
        "/sparkplug/messages",
        put(SP_GROUP, ("sendOutThreshold", "size"), 0),
        "sendOutThreshold.size: must be at least 1",
    ),
    (
        "POST",
        "/sparkplug/messages",
        put(SP_GROUP, ("sendOutThreshold", "sizeIdleTimer", "time"), 0),
        "sendOutThreshold.sizeIdleTimer.time: must be at least 1",
    ),
    ("POST", "/sparkplug/messages", put(SP_GROUP, ("outputTopic",), "t"), "outputTopic: is not a field"),
    ("POST", "/sparkplug/messages", put(SP_GROUP, ("format",), ""), "format: is not a field"),
    ("PUT", "/sparkplug/messages/{id}", put(SP_GROUP, ("tags",), ...), "tags: is required"),
    # the messages/test body and its Tag
    ("PUT", "/aws/messages/test", {"format": 1}, "format: must be a string"),
    ("PUT", "/aws/messages/test", {"tags": {}}, "tags: must be an array"),
    ("PUT", "/aws/messages/test", {"tags": [{"dataType": "int8"}]}, "tags[0].dataType: must be one of"),
    ("PUT", "/aws/messages/test", {"tags": [{"access": "r"}]}, "tags[0].access: must be one of"),
    ("PUT", "/aws/messages/test", {"tags": [{"duration": 2**31}]}, "tags[0].duration: must be at most"),
    ("PUT", "/aws/messages/test", {"tags": [{"duration": "1000"}]}, "tags[0].duration: must be an integer"),
    ("PUT", "/aws/messages/test", {"tags": [{"dataValue": 1}]}, "tags[0].dataValue: is not a field"),
    ("PUT", "/aws/messages/test", {"format": "", "extra": 1}, "extra: is not a field"),
    # AzureIoTDeviceConfiguration
    (
        "PUT",
        "/azure-device",
        {"provisioning": {"keepAlive": 0}},
        "provisioning.keepAlive: must be at least 1",
    ),
    (
        "PUT",
        "/azure-device",
        {"provisioning": {"keepAlive": 3601}},
        "provisioning.keepAlive: must be at most 3600",
    ),
    (
        "PUT",
        "/azure-device",
        {"provisioning": {"authenticationType": "tpm"}},
        "provisioning.authenticationType: must be one of",
    ),
    (
        "PUT",
        "/azure-device",
        {"provisioning": {"connectionString": ""}},
        "provisioning.connectionString: must not be empty",
    ),
    (
        "PUT",
        "/azure-device",
        {"provisioning": {"connectionString": "c" * 1025}},
        "provisioning.connectionString: must be at most 1024",
    ),
    (
        "PUT",
        "/azure-device",
        {"provisioning": {"supportTwin": "yes"}},
        "provisioning.supportTwin: must be a boolean",
    ),
    (
        "PUT",
        "/azure-device",
        {"provisioning": {"protocol": {"capabilities": {"port": "443"}}}},
        "provisioning.protocol.capabilities: must be an array",
    ),
    (
        "PUT",
        "/azure-device",
        {"provisioning": {"certificate": {"rootCaCertFile": "r"}}},
        "provisioning.certificate.rootCaCertFile: is not a field",
    ),
    ("PUT", "/azure-device", {"status": 1}, "status: must be one of"),  # read-only, but typed as Moxa has it
    # AwsIoTCoreConfiguration
    ("PUT", "/aws", {"provisioning": {"keepAliveSec": 0}}, "provisioning.keepAliveSec: must be at least 1"),
    ("PUT", "/aws", {"provisioning": {"port": "8883"}}, "provisioning.port: must be an integer"),
    ("PUT", "/aws", {"provisioning": {"supportDM": 1}}, "provisioning.supportDM: must be a boolean"),
    ("PUT", "/aws", {"provisioning": {"messageQOS": 3}}, "provisioning.messageQOS: must be at most 2"),
    ("PUT", "/aws", {"provisioning": {"region": "x"}}, "provisioning.region: is not a field"),
    # AzureIoTEdgeConfiguration
    ("PATCH", "/azure-iotedge", {"provisioning": {"source": "cloud"}}, "provisioning.source: must be one of"),
    (
        "PATCH",
        "/azure-iotedge",
        {"provisioning": {"method": "password"}},
        "provisioning.method: must be one of",
    ),
    ("PATCH", "/azure-iotedge", {"provisioning": {"scopeId": ""}}, "provisioning.scopeId: must not be empty"),
    (
        "PATCH",
        "/azure-iotedge",
        {"provisioning": {"scopeId": "s" * 129}},
        "provisioning.scopeId: must be at most 128",
    ),
    (
        "PATCH",
        "/azure-iotedge",
        {"provisioning": {"symmetricKey": "k" * 257}},
        "provisioning.symmetricKey: must be at most 256",
    ),
    (
        "PATCH",
        "/azure-iotedge",
        {"provisioning": {"identityPk": ""}},
        "provisioning.identityPk: must not be empty",
    ),
    (
        "PATCH",
        "/azure-iotedge",
        {"provisioning": {"identityCert": "c" * 1025}},
        "provisioning.identityCert: must be at most 1024",
    ),
    (
        "PATCH",
        "/azure-iotedge",
        {"provisioning": {"registrationId": "r" * 129}},
        "provisioning.registrationId: must be at most 128",
    ),
    ("PATCH", "/azure-iotedge", {"provisioning": {"enable": None}}, "provisioning.enable: must be a boolean"),
    (
        "PATCH",
        "/azure-iotedge",
        {"downstreamCerts": {"mode": "custom"}},
        "downstreamCerts.mode: must be one of",
    ),
    ("PATCH", "/azure-iotedge", {"iotedge": []}, "iotedge: must be an object"),
    ("PATCH", "/azure-iotedge", {"edgeAgentURI": 1}, "edgeAgentURI: must be a string"),
    ("PATCH", "/azure-iotedge", {"dlm": {}}, "dlm: is not a field"),
    # SparkplugConfiguration
    ("PUT", "/sparkplug", put(SPARKPLUG, ("nodeID",), ...), "nodeID: is required"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("groupID",), ...), "groupID: is required"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("nodeID",), ""), "nodeID: must not be empty"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("groupID",), "g" * 256), "groupID: must be at most 255"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("nodeID",), "a+b"), "nodeID: must not contain '+', '/' or '#'"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("nodeID",), "a/b"), "nodeID: must not contain '+', '/' or '#'"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("groupID",), "#"), "groupID: must not contain '+', '/' or '#'"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("groupID",), 7), "groupID: must be a string"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("uuid",), "u" * 256), "uuid: must be at most 255"),
    (
        "PUT",
        "/sparkplug",
        put(SPARKPLUG, ("primaryHostID",), "h" * 256),
        "primaryHostID: must be at most 255",
    ),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("handshakeTimeout",), 0), "handshakeTimeout: must be at least 1"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("maxRetries",), 61), "maxRetries: must be at most 60"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("maxRetries",), -1), "maxRetries: must be at least 0"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("retryInterval",), 3601), "retryInterval: must be at most 3600"),
    ("PUT", "/sparkplug", put(SPARKPLUG, ("enableDM",), "false"), "enableDM: must be a boolean"),
    # SparkplugBrokerConfiguration (one, and the list of PUT /sparkplug/brokers)
    ("POST", "/sparkplug/brokers", put(BROKER, ("port",), 0), "port: must be at least 1"),
    ("POST", "/sparkplug/brokers", put(BROKER, ("port",), 65537), "port: must be at most 65536"),
    ("POST", "/sparkplug/brokers", put(BROKER, ("server",), ...), "server: is required"),
    ("POST", "/sparkplug/brokers", put(BROKER, ("keepAliveSec",), 9), "keepAliveSec: must be at least 10"),
    ("POST", "/sparkplug/brokers", put(BROKER, ("password",), "p" * 256), "password: must be at most 255"),
    ("POST", "/sparkplug/brokers", put(BROKER, ("tlsVersion",), "1.4"), "tlsVersion: must be one of"),
    (
        "POST",
        "/sparkplug/brokers",
        put(BROKER, ("insecureSkipVerify",), 0),
        "insecureSkipVerify: must be a boolean",
    ),
    ("PUT", "/sparkplug/brokers/{id}", put(BROKER, ("qos",), 1), "qos: is not a field"),
    ("PUT", "/sparkplug/brokers", [BROKER, put(BROKER, ("port",), "1")], "[1].port: must be an integer"),
    ("PUT", "/sparkplug/brokers", BROKER, "body: must be an array"),
    # DeviceProperties
    (
        "PUT",
        "/azure-device/twin/properties",
        put(MAPPING, ("device", "general", 0, "desiredPath"), ...),
        "device.general[0].desiredPath: is required",
    ),
    (
        "PUT",
        "/aws/shadow/properties",
        put(MAPPING, ("device", "general", 0, "reportedPath"), ...),
        "device.general[0].reportedPath: is required",
    ),
    (
        "PUT",
        "/sparkplug/node/properties",
        put(MAPPING, ("device", "general", 0, "source"), 1),
        "device.general[0].source: must be a string",
    ),
    (
        "PUT",
        "/azure-iotedge/twin/properties",
        put(MAPPING, ("device", "general", 0, "path"), "p"),
        "device.general[0].path: is not a field",
    ),
    ("PUT", "/azure-iotedge/twin/properties", {"device": []}, "device: must be an object"),
    (
        "PUT",
        "/azure-iotedge/twin/properties",
        {"device": {"general": {}}},
        "device.general: must be an array",
    ),
    # the clear body
    ("PUT", "/azure-device/twin/clear", {"general": True}, "body: must be an array"),
    ("PUT", "/aws/shadow/clear", ["general", 1], "[1]: must be a string"),
    ("PUT", "/sparkplug/node/clear", "general", "body: must be an array"),
    # /sparkplug/properties
    (
        "PUT",
        "/sparkplug/properties",
        {"selections": {"cellulars": {"source": "ip"}}},
        "selections.cellulars: must be an array",
    ),
    (
        "PUT",
        "/sparkplug/properties",
        {"selections": {"cellulars": [{"desiredPath": "x"}]}},
        "selections.cellulars[0].desiredPath: is not a field",
    ),
    ("PUT", "/sparkplug/properties", {"selection": {}}, "selection: is not a field"),
]


@pytest.mark.parametrize(("method", "path", "body", "message"), BAD, ids=[b[3] for b in BAD])
def test_each_rule_is_enforced_with_a_message_naming_the_field(
    method: str, path: str, body: Any, message: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate(operation(method, path), body)
    assert caught.value.message.startswith(message)
    assert caught.value.status == 400


def test_every_request_schema_has_bad_cases() -> None:
    # each body model of the table is exercised by at least one bad case above
    bodies = {op.body for op in OPERATIONS if op.body is not None}
    exercised = {operation(m, p).body for m, p, _, _ in BAD}
    assert bodies <= exercised


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/mqtt", {**MQTT, "protocolVersion": "3.1", "clientID": "c" * 23}),
        ("POST", "/mqtt", {**MQTT, "protocolVersion": "3.1.1", "clientID": "c" * 65536}),
        ("POST", "/mqtt", {**MQTT, "keepAliveSec": 10, "handshakeTimeout": 600, "retryInterval": 3600}),
        ("POST", "/mqtt", {**MQTT, "remoteAPI": {"ttl": 60, "qos": 2}}),
        ("POST", "/sparkplug/brokers", {**BROKER, "port": 65536, "keepAliveSec": 65536}),
        ("PUT", "/sparkplug", {"nodeID": "n" * 255, "groupID": "ünïcödé", "uuid": "", "maxRetries": 0}),
        ("PUT", "/sparkplug/store-and-forward", {"bulkUpload": {"enable": False, "size": 1024}}),
        (
            "POST",
            "/aws/messages",
            {**GROUP, "pollingInterval": 86400, "format": "", "minPublishInterval": 60},
        ),
        ("POST", "/sparkplug/messages", {**SP_GROUP, "sendOutThreshold": {"time": 1, "size": 1}}),
        ("PUT", "/aws/messages/test", {"tags": [{"duration": -(2**31)}]}),
        ("PUT", "/aws/shadow/clear", []),
    ],
)
def test_the_bounds_themselves_are_accepted(method: str, path: str, body: Any) -> None:
    assert validate(operation(method, path), body) == body


# --------------------------------------------------------------------------- secrets
def test_the_secret_fields_are_the_documents_secrets() -> None:
    # Given every property of Moxa's schemas and forms that is named a password, a key or a connection
    # string, or described as a private key
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            for name, prop in (props if isinstance(props, dict) else {}).items():
                description = str(prop.get("description", "")).lower() if isinstance(prop, dict) else ""
                named = any(w in name.lower() for w in ("password", "symmetrickey", "connectionstring"))
                if named or name.endswith("Pk") or "private key" in description:
                    found.add(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc())
    # Then they are the secret fields (a header's password is no body field)
    assert found == SECRET_FIELDS


def test_a_masked_secret_fits_every_length_rule_moxa_gives_it() -> None:
    bounds: list[tuple[str, int, int]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            for name, prop in (props if isinstance(props, dict) else {}).items():
                if name in SECRET_FIELDS and isinstance(prop, dict):
                    bounds.append((name, prop.get("minLength", 0), prop.get("maxLength", 2**31)))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc())
    assert {name for name, _, _ in bounds} == SECRET_FIELDS
    for _, low, high in bounds:
        assert low <= len(MASK) <= high


def test_mask_replaces_secrets_at_any_depth_and_in_lists() -> None:
    answer = {
        "data": {
            "enable": True,
            "password": "hunter2",
            "certificate": {"caCertFile": "device.crt", "caPkFile": "device.key", "rootCaCertFile": ""},
            "provisioning": {"connectionString": "HostName=x;SharedAccessKey=y", "symmetricKey": ""},
            "brokerList": [
                {"id": 1, "server": "a", "password": "p1", "userName": "admin"},
                {"id": 2, "server": "b"},
                {"id": 3, "server": "c", "password": "p3", "certificate": {"caPkFile": "k.pem"}},
            ],
        }
    }
    original = copy.deepcopy(answer)
    masked = mask(answer)
    assert answer == original  # a copy: the answer itself is untouched
    assert masked == {
        "data": {
            "enable": True,
            "password": MASK,
            "certificate": {"caCertFile": "device.crt", "caPkFile": MASK, "rootCaCertFile": ""},
            "provisioning": {"connectionString": MASK, "symmetricKey": ""},
            "brokerList": [
                {"id": 1, "server": "a", "password": MASK, "userName": "admin"},
                {"id": 2, "server": "b"},
                {"id": 3, "server": "c", "password": MASK, "certificate": {"caPkFile": MASK}},
            ],
        }
    }
    assert secret_paths(answer) == [
        ("data", "password"),
        ("data", "certificate", "caPkFile"),
        ("data", "provisioning", "connectionString"),
        ("data", "brokerList", 0, "password"),
        ("data", "brokerList", 2, "password"),
        ("data", "brokerList", 2, "certificate", "caPkFile"),
    ]


def test_mask_leaves_what_is_not_a_secret_string() -> None:
    value = [{"password": None}, {"password": 3}, {"identityPk": ""}, {"identityCert": "PEM"}, "password", 1]
    assert mask(value) == value
    assert secret_paths(value) == []
    assert mask("text") == "text"
    assert mask([{"identityPk": "KEY"}]) == [{"identityPk": MASK}]


def answer_examples() -> Iterator[tuple[str, Any, Any]]:
    """(operation, answer, schema): Moxa's answer examples, and answers built from the examples of the
    schemas an answer holds."""
    schemas = doc()["components"]["schemas"]
    for method, path, entry, _ in doc_operations():
        _, answer = success(entry)
        media = next(iter(answer["content"]))
        if media != "application/json":
            continue
        body = answer["content"][media]
        schema = body["schema"]
        key = f"{method} {path}"
        if "example" in body:
            yield key, body["example"], schema
        for name, example in body.get("examples", {}).items():
            yield f"{key} {name}", example["value"], schema
        data = schema.get("properties", {}).get("data", {})
        ref = data.get("$ref") or data.get("items", {}).get("$ref") or schema.get("items", {}).get("$ref")
        if ref:
            example = schemas[ref.rsplit("/", 1)[-1]].get("example")
            if example is not None:
                item = example.get("data", example)
                many = data.get("type") == "array" or schema.get("type") == "array"
                value = [item] if many else item
                yield (
                    f"{key} (schema example)",
                    value if schema.get("type") == "array" else {"data": value},
                    schema,
                )


ANSWERS = list(answer_examples())


def test_some_answer_examples_hold_secrets() -> None:
    assert sum(1 for _, answer, _ in ANSWERS if secret_paths(answer)) >= 10


@pytest.mark.parametrize(("key", "answer", "schema"), ANSWERS, ids=[k for k, _, _ in ANSWERS])
def test_masked_answers_still_satisfy_moxas_answer_schema(key: str, answer: Any, schema: Any) -> None:
    root = {**schema, "components": doc()["components"]}
    validator = jsonschema.Draft7Validator(root)
    masked = mask(answer)

    def errors(value: Any) -> set[tuple[str, str]]:
        return {(e.json_path, e.validator) for e in validator.iter_errors(value)}

    # masking adds no error (Moxa's own example of AzureIoTDeviceConfiguration breaks its schema: the
    # capabilities' ports are integers there, strings in the schema)
    assert errors(masked) <= errors(answer), key
    if "/azure-device" not in key:
        assert not errors(masked), key
    assert json.dumps(masked).count(MASK) == len(secret_paths(answer))
    # and only the secrets changed: putting them back gives the answer
    restored = copy.deepcopy(masked)
    for where in secret_paths(answer):
        original, node = answer, restored
        for step in where[:-1]:
            original, node = original[step], node[step]
        assert node[where[-1]] == MASK != original[where[-1]]
        node[where[-1]] = original[where[-1]]
    assert restored == answer


# --------------------------------------------------------------------------- OpenAPI
def test_the_document_has_every_operation_under_the_gateway_prefix_with_the_token_scheme() -> None:
    from fleetgate.contracts.openapi import document  # noqa: PLC0415

    paths = document()["paths"]
    expected = {
        (f"/thingspro/gateways/{{gateway_id}}/api/v1{op.path}", op.method.lower()) for op in OPERATIONS
    }
    ours = {(p, m) for p, item in paths.items() for m in item if p.startswith("/thingspro/")}
    assert ours == expected | {("/thingspro/gateways/{gateway_id}/api/v1/auth", m) for m in ("get", "post")}
    for path_, method in expected:
        item = paths[path_][method]
        assert item["tags"] == ["ThingsPro"]
        assert item["security"] == [{"thingsproToken": []}]


def test_the_documents_request_schemas_mark_read_only_fields_and_forms() -> None:
    from fleetgate.contracts.openapi import document  # noqa: PLC0415

    generated = document()
    schemas = generated["components"]["schemas"]
    mqtt = schemas["MQTTConfiguration"]
    assert mqtt["properties"]["id"]["readOnly"] is True
    assert set(mqtt["required"]) == {"server", "port"}
    assert mqtt["additionalProperties"] is False
    assert all("default" not in prop for prop in mqtt["properties"].values())
    form = generated["paths"]["/thingspro/gateways/{gateway_id}/api/v1/sparkplug/configuration"]["put"]
    assert "application/json" not in form["requestBody"]["content"]
    assert (
        form["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["file"]["format"]
        == "binary"
    )


def test_the_gateways_capabilities_are_read_only_whatever_type_their_ports_have() -> None:
    # Moxa's schema says a string, its example a number: neither is forwarded, so neither can make the
    # gateway answer against the schema
    put = operation("PUT", "/azure-device")
    for port in ("443", 443):
        body = {
            "provisioning": {
                "protocol": {"protocol": "mqtt", "capabilities": [{"protocol": "amqp", "port": port}]}
            }
        }
        assert validate(put, body) == {"provisioning": {"protocol": {"protocol": "mqtt"}}}
