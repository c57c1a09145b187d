"""The ThingsPro Cloud API (Moxa's "ThingsPro Cloud APIs" 2.4.0, paths relative to ``/api/v1``), which
fleetgate serves per gateway and forwards to the gateway: the request bodies of its 87 operations as
pydantic models, the operations themselves (``OPERATIONS``, ``match``), the validation every request
passes before it is stored or sent (``validate``, ``validate_params``), and the masking of the secrets
in what is answered (``mask``).

Invariants:
- The rules are Moxa's, no more and no fewer: JSON types are strict (no ``"1"`` for an integer, no ``1``
  for a boolean, no ``null`` anywhere Moxa declares a type), ``minimum``/``maximum``, ``minLength``/
  ``maxLength``, enums and required fields are enforced, and unknown keys are refused. Where Moxa's
  document contradicts itself (a schema against its own example), the comment at the field says which
  side is taken and why.
- Nothing is added: Moxa's defaults are not filled in, so the cleaned body holds exactly the fields the
  client sent, less the ones Moxa marks ``readOnly`` (the gateway's own state, such as ``id`` or
  ``status``: accepted, so an answer can be sent back edited, and dropped). A read-only object or array
  (``disks``, ``iotedge``, ``certificateInfo``) is checked only for being one: its content is the
  gateway's and is dropped anyway.
- Ids in paths (``{id}``, ``{group_id}``) are ThingsPro's integer ids, at least 1; a module ``{name}`` is
  1..255 characters without ``/``.
- ``mask`` replaces every non-empty secret string by ``MASK`` and changes nothing else, so a masked
  answer still satisfies Moxa's answer schema (no secret field has a ``minLength`` above or a
  ``maxLength`` under ``len(MASK)``); an empty secret stays empty (it hides nothing).

This module is pure (pydantic and the standard library): the dialect and the forwarding use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from fleetgate.contracts import spec
from fleetgate.contracts.manage_requests import AS_INTEGER
from fleetgate.domain import thingspro as tpe
from fleetgate.errors import InvalidRequest

TAG = "ThingsPro"
SECURITY_SCHEME = "thingsproToken"
ROUTE_PREFIX = tpe.ROUTE_PREFIX
# the secret rules are the domain's (no pydantic), so rule functions mask answers without this module
MASK, SECRET_FIELDS, mask, secret_paths = tpe.MASK, tpe.SECRET_FIELDS, tpe.mask, tpe.secret_paths

MAX_ID = 2**63 - 1  # ThingsPro's ids are int64
MAX_MODULE_NAME = 255
SPARKPLUG_RESERVED = "+/#"

OPTIONAL: Any = None  # an optional field's default: never validated and never sent (exclude unset)


def _drop_defaults(schema: dict[str, Any]) -> None:
    """No ``default`` in the JSON schema of an optional field: fleetgate fills none in."""
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_defaults)


def _read_only(**kwargs: Any) -> Any:
    """An optional field Moxa marks ``readOnly``: accepted, then dropped from the cleaned body."""
    return Field(default=None, json_schema_extra={"readOnly": True}, **kwargs)


def _is_read_only(model: type[BaseModel], name: str) -> bool:
    extra = model.model_fields[name].json_schema_extra
    return isinstance(extra, dict) and extra.get("readOnly") is True


Int = Annotated[int, Field(strict=True), AS_INTEGER]
Qos = Annotated[int, Field(strict=True, ge=0, le=2), AS_INTEGER]
Topic = Annotated[str, Field(strict=True, min_length=1, max_length=65536)]
ReadOnlyObject = dict[str, Any]
ReadOnlyArray = list[Any]
Status = Literal["disconnect", "connecting", "connectFailure", "connected"]
TlsVersion = Literal["1.3", "1.2", "1.1", "1.0"]


def _sparkplug_id(value: str) -> str:
    if any(c in value for c in SPARKPLUG_RESERVED):
        raise ValueError("must not contain '+', '/' or '#'")
    return value


# Sparkplug B group and edge node ids: 1..255 characters, none of MQTT's reserved "+", "/", "#"
SparkplugId = Annotated[str, Field(strict=True, min_length=1, max_length=255), AfterValidator(_sparkplug_id)]


# --------------------------------------------------------------------------- certificates
class Certificate(_Body):
    """The certificate files (names) of a TLS client: ``caPkFile`` names the private key."""

    rootCaCertFile: StrictStr = OPTIONAL
    caCertFile: StrictStr = OPTIONAL
    caPkFile: StrictStr = OPTIONAL


# --------------------------------------------------------------------------- MQTT client
class WillMessage(_Body):
    enable: StrictBool = OPTIONAL
    topic: Topic = OPTIONAL
    message: StrictStr = OPTIONAL
    # Moxa gives no range here; MQTT has no QoS but 0, 1 and 2 (as MQTTConfiguration.qos states)
    qos: Qos = OPTIONAL
    retain: StrictBool = OPTIONAL


class RemoteAPI(_Body):
    """The ThingsPro REST API invoked over MQTT (request/response topics)."""

    enable: StrictBool = OPTIONAL
    requestSubTopic: Topic = OPTIONAL
    responsePubTopic: Topic = OPTIONAL
    # not in Moxa's schema, but in its own example of MQTTConfiguration (what a gateway answers, so
    # what a client sends back): accepted as the integer the example shows
    ttl: Int = OPTIONAL
    qos: Qos = OPTIONAL
    retain: StrictBool = OPTIONAL


MQTT_V31_CLIENT_ID = 23
MQTT_CLIENT_ID = 65536


class MQTTConfiguration(_Body):
    """An MQTT client of the gateway (``POST /mqtt``, ``PUT /mqtt/{id}``)."""

    id: Int = _read_only()
    enable: StrictBool = OPTIONAL
    status: Status = _read_only()
    # Moxa's enum lists 3.1 unquoted (a YAML number) beside the string 3.1.1 and the example's string
    # "3.1.1": the versions are strings
    protocolVersion: Literal["3.1", "3.1.1"] = OPTIONAL
    server: StrictStr
    port: Int
    keepAliveSec: Annotated[int, Field(strict=True, ge=10, le=65536), AS_INTEGER] = OPTIONAL
    handshakeTimeout: Annotated[int, Field(strict=True, ge=10, le=600), AS_INTEGER] = OPTIONAL
    retryInterval: Annotated[int, Field(strict=True, ge=10, le=3600), AS_INTEGER] = OPTIONAL
    clearSession: StrictBool = OPTIONAL
    certificateOverTLS: StrictBool = OPTIONAL
    # "Max length: 65536 in V3.1.1, 23 in V3.1" (checked below against the body's protocolVersion)
    clientID: Annotated[str, Field(strict=True, max_length=MQTT_CLIENT_ID)] = OPTIONAL
    userName: Annotated[str, Field(strict=True, max_length=255)] = OPTIONAL
    password: Annotated[str, Field(strict=True, max_length=255)] = OPTIONAL
    tlsVersion: TlsVersion = OPTIONAL
    insecureSkipVerify: StrictBool = OPTIONAL
    certificate: Certificate = OPTIONAL
    qos: Qos = OPTIONAL  # "support qos 0,1,2"
    retain: StrictBool = OPTIONAL
    willMessage: WillMessage = OPTIONAL
    remoteAPI: RemoteAPI = OPTIONAL

    @model_validator(mode="after")
    def _client_id_of_v31(self) -> MQTTConfiguration:
        if (
            self.protocolVersion == "3.1"
            and "clientID" in self.model_fields_set
            and len(self.clientID) > MQTT_V31_CLIENT_ID
        ):
            raise ValueError(f"clientID: must be at most {MQTT_V31_CLIENT_ID} characters with MQTT 3.1")
        return self


# --------------------------------------------------------------------------- store and forward
class Disk(_Body):
    name: StrictStr = _read_only()
    mount: StrictStr = _read_only()
    device: StrictStr = _read_only()
    total: Int = _read_only()
    used: Int = _read_only()
    free: Int = _read_only()


class StoreAndForward(_Body):
    """Where and how long the gateway keeps the messages it could not send."""

    enable: StrictBool = OPTIONAL
    targetDiskName: StrictStr = OPTIONAL
    desiredDiskCacheSizeMB: Int = OPTIONAL
    timeToLiveSec: Int = OPTIONAL
    dropBehavior: Literal["oldest", "newest"] = OPTIONAL
    disks: ReadOnlyArray = _read_only()  # the gateway's disks (every field read-only)


class BulkUpload(_Body):
    """Moxa's ``BlukConfiguration`` (sic): the bulk upload after the connection comes back."""

    enable: StrictBool
    size: Annotated[int, Field(strict=True, ge=1, le=1024), AS_INTEGER]  # KB


class StoreAndForwardWithBulkUpload(StoreAndForward):
    bulkUpload: BulkUpload = OPTIONAL


# --------------------------------------------------------------------------- message groups
TagName = Annotated[str, Field(strict=True, min_length=1, max_length=255)]
# {"<module (provider) name>": {"<source name>": ["<tag name>", ...]}}
Tags = dict[str, dict[str, list[TagName]]]


class MessageProperty(_Body):
    key: Annotated[str, Field(strict=True, min_length=1)]
    value: Annotated[str, Field(strict=True, min_length=1)]


class SizeIdleTimer(_Body):
    enable: StrictBool = OPTIONAL
    time: Annotated[int, Field(strict=True, ge=0, le=86400), AS_INTEGER] = OPTIONAL


class SendOutThreshold(_Body):
    mode: Literal["byTime", "bySize", "immediately"] = OPTIONAL
    time: Annotated[int, Field(strict=True, ge=0, le=86400), AS_INTEGER] = OPTIONAL  # seconds
    size: Annotated[int, Field(strict=True, ge=0, le=262144), AS_INTEGER] = OPTIONAL  # bytes
    sizeIdleTimer: SizeIdleTimer = OPTIONAL


class SparkplugSizeIdleTimer(_Body):
    enable: StrictBool = OPTIONAL
    time: Annotated[int, Field(strict=True, ge=1, le=86400), AS_INTEGER] = OPTIONAL


class SparkplugSendOutThreshold(_Body):
    mode: Literal["byTime", "bySize", "immediately"] = OPTIONAL
    time: Annotated[int, Field(strict=True, ge=1, le=86400), AS_INTEGER] = OPTIONAL
    size: Annotated[int, Field(strict=True, ge=1, le=262144), AS_INTEGER] = OPTIONAL
    sizeIdleTimer: SparkplugSizeIdleTimer = OPTIONAL


SamplingMode = Literal["allValues", "latestValues", "allChangedValues", "latestChangedValues"]
# Moxa writes the range of pollingInterval as minLength 0 / maxLength 86400, string keywords on an
# integer (which JSON Schema ignores): the range it means, seconds, is enforced
PollingInterval = Annotated[int, Field(strict=True, ge=0, le=86400), AS_INTEGER]


class MessagePolicy(_Body):
    """A message group of the MQTT, Azure IoT Device, AWS IoT Core and Azure IoT Edge clients: which tags,
    sampled how, sent when, in which format (a jq filter; empty = Moxa's default format).

    ``id`` is both required and read-only in Moxa's schema: OpenAPI's rule is that a required read-only
    field is required in answers only, so a request need not (and cannot usefully) send it."""

    id: Int = _read_only()
    enable: StrictBool
    description: Annotated[str, Field(strict=True, max_length=1024)] = OPTIONAL
    format: Annotated[str, Field(strict=True, min_length=0, max_length=4096)] = OPTIONAL
    properties: list[MessageProperty] = OPTIONAL
    tags: Tags
    outputTopic: Annotated[str, Field(strict=True, min_length=1)]
    onChange: StrictBool = _read_only()
    minPublishInterval: Annotated[int, Field(strict=True, ge=0, le=60), AS_INTEGER] = OPTIONAL
    samplingMode: SamplingMode = OPTIONAL
    customSamplingRate: StrictBool = OPTIONAL
    pollingInterval: PollingInterval = OPTIONAL
    sendOutThreshold: SendOutThreshold


class SparkplugMessagePolicy(_Body):
    """A Sparkplug message group (node or device, by ``?type=``): a MessagePolicy without ``format``,
    ``properties`` or ``outputTopic`` and with its own bounds. Moxa's own example of this schema carries
    ``properties: []``, which the schema does not have: the schema is followed (an example of an
    answer, not a request), so ``properties`` is refused like any unknown key."""

    id: Int = _read_only()
    enable: StrictBool
    description: Annotated[str, Field(strict=True, max_length=1024)] = OPTIONAL
    tags: Tags
    onChange: StrictBool = _read_only()
    minPublishInterval: Annotated[int, Field(strict=True, ge=0, le=10), AS_INTEGER] = OPTIONAL
    samplingMode: SamplingMode = OPTIONAL
    customSamplingRate: StrictBool = OPTIONAL
    pollingInterval: PollingInterval = OPTIONAL
    sendOutThreshold: SparkplugSendOutThreshold


class Tag(_Body):
    """A test tag of ``…/messages/test`` (not the runtime tag record the jq format is applied to)."""

    srcName: StrictStr = OPTIONAL
    tagName: StrictStr = OPTIONAL
    dataType: Literal[
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "int16",
        "int32",
        "int64",
        "float32",
        "float64",
        "string",
        "boolean",
        "bytearray",
    ] = OPTIONAL
    duration: Annotated[int, Field(strict=True, ge=-(2**31), le=2**31 - 1), AS_INTEGER] = (
        OPTIONAL  # format: int32
    )
    dataUnit: StrictStr = OPTIONAL
    access: Literal["ro", "wo", "rw"] = OPTIONAL


class MessageTest(_Body):
    """``PUT …/messages/test``: the answer is ``format`` applied to ``tags``."""

    format: StrictStr = OPTIONAL
    tags: list[Tag] = OPTIONAL


# --------------------------------------------------------------------------- Azure IoT Device
class ProtocolCapability(_Body):
    protocol: StrictStr = OPTIONAL
    port: StrictStr = OPTIONAL


class AzureProtocol(_Body):
    # what the gateway can speak, which it states: taken as read-only and never forwarded. Moxa's schema
    # types a capability's port as a string, its own example (and so a GET read back) as a number; a
    # client sending either must not make the gateway answer against the schema
    capabilities: ReadOnlyArray = _read_only()
    protocol: StrictStr = OPTIONAL
    port: Int = _read_only()


class AzureCertificate(_Body):
    caCertFile: StrictStr = OPTIONAL
    caPkFile: StrictStr = OPTIONAL


class AzureDeviceProvisioning(_Body):
    enable: StrictBool = OPTIONAL
    protocol: AzureProtocol = OPTIONAL
    keepAlive: Annotated[int, Field(strict=True, ge=1, le=3600), AS_INTEGER] = OPTIONAL
    supportTwin: StrictBool = OPTIONAL
    authenticationType: Literal["x509", "symmetricKey"] = OPTIONAL
    connectionString: Annotated[str, Field(strict=True, min_length=1, max_length=1024)] = OPTIONAL
    certificate: AzureCertificate = OPTIONAL
    rootCaCertFile: StrictStr = OPTIONAL


class AzureIoTDeviceConfiguration(_Body):
    """``PUT /azure-device``: the Azure IoT Device client's provisioning."""

    status: Status = _read_only()
    provisioning: AzureDeviceProvisioning = OPTIONAL


# --------------------------------------------------------------------------- AWS IoT Core
class AwsProvisioning(_Body):
    enable: StrictBool = OPTIONAL
    host: StrictStr = OPTIONAL
    port: Int = OPTIONAL
    thingID: StrictStr = OPTIONAL
    messageQOS: Qos = OPTIONAL  # no range in Moxa's schema; MQTT's QoS levels
    keepAliveSec: Annotated[int, Field(strict=True, ge=1, le=3600), AS_INTEGER] = OPTIONAL
    supportDM: StrictBool = OPTIONAL
    certificate: Certificate = OPTIONAL


class AwsIoTCoreConfiguration(_Body):
    """``PUT /aws``: the AWS IoT Core client's provisioning."""

    status: Status = _read_only()
    provisioning: AwsProvisioning = OPTIONAL


# --------------------------------------------------------------------------- Azure IoT Edge
class AzureIoTEdgeProvisioning(_Body):
    enable: StrictBool = OPTIONAL
    supportTwin: StrictBool = OPTIONAL
    globalEndpoint: StrictStr = OPTIONAL
    source: Literal["manual", "dps"] = OPTIONAL
    method: Literal["tpm", "symmetricKey", "x509"] = OPTIONAL
    connectionString: Annotated[str, Field(strict=True, min_length=1, max_length=1024)] = OPTIONAL
    scopeId: Annotated[str, Field(strict=True, min_length=1, max_length=128)] = OPTIONAL
    symmetricKey: Annotated[str, Field(strict=True, min_length=1, max_length=256)] = OPTIONAL
    identityCert: Annotated[str, Field(strict=True, min_length=1, max_length=1024)] = OPTIONAL
    identityPk: Annotated[str, Field(strict=True, min_length=1, max_length=1024)] = OPTIONAL
    # minLength 1 in Moxa's schema, while Moxa's own request example for DPS x509 sends "" (with x509 the
    # registration id is the certificate's common name): the schema is followed, since the gateway's
    # answer holds what it was sent and Moxa's answer schema refuses an empty id (leave the field out)
    registrationId: Annotated[str, Field(strict=True, min_length=1, max_length=128)] = OPTIONAL
    endorsementKey: StrictStr = _read_only()


class DownstreamCerts(_Body):
    mode: Literal["default", "user", "moxa"] = OPTIONAL
    caCertFile: StrictStr = OPTIONAL
    caPkFile: StrictStr = OPTIONAL
    trustedCaFile: StrictStr = OPTIONAL
    certificateInfo: ReadOnlyObject = _read_only()


class AzureIoTEdgeConfiguration(_Body):
    """``PATCH /azure-iotedge``: every field is optional, only those sent change."""

    iotedge: ReadOnlyObject = _read_only()  # the runtime's state (every field read-only)
    provisioning: AzureIoTEdgeProvisioning = OPTIONAL
    downstreamCerts: DownstreamCerts = OPTIONAL
    edgeAgentURI: StrictStr = OPTIONAL


# --------------------------------------------------------------------------- Sparkplug
class SparkplugBrokerConfiguration(_Body):
    """A Sparkplug broker (``POST``/``PUT /sparkplug/brokers…``; a list for ``PUT /sparkplug/brokers``)."""

    id: Int = _read_only()
    status: Status = _read_only()
    lastConectedTime: StrictStr = _read_only()  # sic, Moxa's schema
    # Moxa's examples spell it right: both spellings are the gateway's read-only field
    lastConnectedTime: StrictStr = _read_only()
    enable: StrictBool = OPTIONAL
    server: StrictStr
    port: Annotated[int, Field(strict=True, ge=1, le=65536), AS_INTEGER]
    keepAliveSec: Annotated[int, Field(strict=True, ge=10, le=65536), AS_INTEGER] = OPTIONAL
    certificateOverTLS: StrictBool = OPTIONAL
    clientID: Annotated[str, Field(strict=True, max_length=MQTT_CLIENT_ID)] = OPTIONAL
    userName: Annotated[str, Field(strict=True, max_length=255)] = OPTIONAL
    password: Annotated[str, Field(strict=True, max_length=255)] = OPTIONAL
    tlsVersion: TlsVersion = OPTIONAL
    insecureSkipVerify: StrictBool = OPTIONAL
    certificate: Certificate = OPTIONAL


class SparkplugConfiguration(_Body):
    """``PUT /sparkplug``. Moxa: "BrokerList is readOnly in this endpoint" (brokers have their own
    routes), so ``brokerList`` is accepted and dropped like any read-only field."""

    enable: StrictBool = OPTIONAL
    enableDM: StrictBool = OPTIONAL
    nodeID: SparkplugId
    groupID: SparkplugId
    uuid: Annotated[str, Field(strict=True, min_length=0, max_length=255)] = OPTIONAL
    primaryHostID: Annotated[str, Field(strict=True, min_length=0, max_length=255)] = OPTIONAL
    handshakeTimeout: Annotated[int, Field(strict=True, ge=1, le=600), AS_INTEGER] = OPTIONAL
    maxRetries: Annotated[int, Field(strict=True, ge=0, le=60), AS_INTEGER] = OPTIONAL
    retryInterval: Annotated[int, Field(strict=True, ge=10, le=3600), AS_INTEGER] = OPTIONAL
    brokerList: ReadOnlyArray = _read_only()


class SparkplugBrokers(RootModel[list[SparkplugBrokerConfiguration]]):
    """``PUT /sparkplug/brokers``: every broker, replacing the list."""


class SparkplugSelection(_Body):
    source: StrictStr = OPTIONAL
    reportedPath: StrictStr = OPTIONAL


class SparkplugProperties(_Body):
    """``PUT /sparkplug/properties``. Moxa's schema puts the list of selections one level down
    (``selections.<moduleName>: [...]``), its example two (``selections.device.cellulars: [...]``, origin
    then resource, as DeviceProperties): the schema is followed, since the gateway answers what it was
    sent and Moxa's answer schema is the one-level shape."""

    selections: dict[str, list[SparkplugSelection]] = OPTIONAL


# --------------------------------------------------------------------------- twin, shadow, node
class PropertyMapping(_Body):
    source: StrictStr = OPTIONAL  # a JSON path in the resource; empty = the whole resource
    reportedPath: StrictStr
    desiredPath: StrictStr


class DeviceProperties(RootModel[dict[str, dict[str, list[PropertyMapping]]]]):
    """The twin/shadow/node property mapping: ``{"<origin>": {"<resource>": [mapping, ...]}}``."""


class ClearProperties(RootModel[list[StrictStr]]):
    """``PUT …/clear``: the resources whose properties are cleared (e.g. ``["general", "ethernets"]``)."""


# --------------------------------------------------------------------------- operations
Answer = Literal["data", "bare", "zip", "accepted"]
Errors = Literal["core", "text"]
BodyType = type[BaseModel]


@dataclass(frozen=True)
class QueryParam:
    name: str
    type: Literal["boolean", "string"]
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One operation of Moxa's document. ``answer``: ``data`` = ``{"data": …}``, ``bare`` = a bare JSON
    array, ``zip`` = ``application/zip``, ``accepted`` = 202 ``{"data": …}``. ``errors``: the body of its
    400 as the operation declares it (``core`` = ``{"error": {"code", "message"}}``, ``text`` =
    ``{"error": "<text>"}``). ``live``: always asked of the gateway, never answered from a stored copy.
    ``resource``: the path template whose GET the successful answer of this operation replaces."""

    method: str
    path: str
    summary: str
    body: BodyType | None = None
    multipart: tuple[str, ...] = ()
    json_body: bool = False
    answer: Answer = "data"
    errors: Errors = "core"
    live: bool = False
    query: tuple[QueryParam, ...] = ()
    header_params: tuple[str, ...] = ()
    resource: str | None = None

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.strip("/").split("/"))


def _op(method: str, path: str, summary: str, **kwargs: Any) -> Operation:
    if kwargs.get("body") is not None:
        kwargs.setdefault("json_body", True)
    return Operation(method=method, path=path, summary=summary, **kwargs)


CERT_FILES = ("rootCaCertFile", "caCertFile", "caPkFile")
BROKER_FORM = (
    "enable",
    "server",
    "port",
    "keepAliveSec",
    "certificateOverTLS",
    "clientID",
    "userName",
    "password",
    "tlsVersion",
    "insecureSkipVerify",
    "certificate",
    *CERT_FILES,
)
SPARKPLUG_TYPE = (QueryParam("type", "string", ("node", "device")),)


def _cloud(
    prefix: str,
    properties: str,
    *,
    runtime: str = "",
    store: type[StoreAndForward] = StoreAndForward,
    put_summary: str = "",
) -> tuple[Operation, ...]:
    """The operations Azure IoT Device, AWS IoT Core and Sparkplug share: the runtime reads (not for
    Sparkplug), the property mapping of the twin/shadow/node, and store and forward."""
    ops: list[Operation] = []
    if runtime:
        ops += [
            _op("GET", f"{prefix}/monitor", f"Get {runtime} runtime information.", live=True),
            _op("PUT", f"{prefix}/check", f"Execute {runtime} runtime diagnostic", live=True),
        ]
    ops += [
        _op("GET", f"{prefix}/{properties}/properties", f"get {properties} properties setting."),
        _op(
            "PUT",
            f"{prefix}/{properties}/properties",
            put_summary or f"update {properties} properties setting.",
            body=DeviceProperties,
            resource=f"{prefix}/{properties}/properties",
        ),
        _op("PUT", f"{prefix}/{properties}/reported", f"reported {properties} properties."),
        _op("PUT", f"{prefix}/{properties}/clear", f"clear {properties} properties.", body=ClearProperties),
    ]
    ops += [
        _op("GET", f"{prefix}/store-and-forward", "get store and forward setting."),
        _op(
            "PUT",
            f"{prefix}/store-and-forward",
            "update store and forward setting.",
            body=store,
            resource=f"{prefix}/store-and-forward",
        ),
    ]
    return tuple(ops)


def _groups(collection: str, member: str, *, errors: Errors = "core") -> tuple[Operation, ...]:
    """The message groups of a client: the collection answers bare arrays, a member ``{data}``."""
    return (
        _op("GET", collection, "get message groups setting.", answer="bare"),
        _op(
            "POST",
            collection,
            "create a message group.",
            body=MessagePolicy,
            answer="bare",
            resource=collection,
        ),
        _op("GET", member, "get message group setting.", errors=errors),
        _op(
            "PUT",
            member,
            "update message group setting.",
            body=MessagePolicy,
            errors=errors,
            resource=member,
        ),
        _op(
            "DELETE",
            member,
            "delete message group setting.",
            answer="bare",
            errors=errors,
            resource=collection,
        ),
    )


OPERATIONS: tuple[Operation, ...] = (
    _op("GET", "/remotectl/services", "Get Northbound services' information."),
    # ---- MQTT clients
    _op("GET", "/mqtt", "Get MQTT client configuration."),
    _op(
        "POST",
        "/mqtt",
        "Create a MQTT client configuration.",
        body=MQTTConfiguration,
        multipart=CERT_FILES,
        resource="/mqtt",
    ),
    _op("PUT", "/mqtt/{id}", "Edit MQTT client configuration.", body=MQTTConfiguration, multipart=CERT_FILES),
    _op("DELETE", "/mqtt/{id}", "delete MQTT client configuration.", resource="/mqtt"),
    _op("GET", "/mqtt/monitor", "Get MQTT runtime information.", live=True),
    _op("PUT", "/mqtt/check", "Execute MQTT runtime diagnostic", live=True),
    _op("DELETE", "/mqtt/{id}/certificates", "delete certficate."),
    _op("GET", "/mqtt/{id}/store-and-forward", "get store and forward setting."),
    _op(
        "PUT",
        "/mqtt/{id}/store-and-forward",
        "update store and forward setting.",
        body=StoreAndForward,
        resource="/mqtt/{id}/store-and-forward",
    ),
    *_groups("/mqtt/{id}/messages", "/mqtt/{id}/messages/{group_id}"),
    _op("PUT", "/mqtt/{id}/messages/test", "test custom payload.", body=MessageTest),
    # ---- Azure IoT Device
    _op("GET", "/azure-device", "Get azure iot device configuration."),
    _op(
        "PUT",
        "/azure-device",
        "Update provisioning configuration.",
        body=AzureIoTDeviceConfiguration,
        resource="/azure-device",
    ),
    _op(
        "POST",
        "/azure-device",
        "Setup x509 certificates.",
        multipart=("caCertFile", "caPkFile", "rootCaCertFile", "connectionString", "protocol"),
        resource="/azure-device",
    ),
    *_cloud("/azure-device", "twin", runtime="azure device"),
    *_groups("/azure-device/messages", "/azure-device/messages/{id}"),
    _op("PUT", "/azure-device/messages/test", "test custom payload.", body=MessageTest),
    # ---- AWS IoT Core
    _op("GET", "/aws", "Get AWS iot device configuration."),
    _op(
        "PUT",
        "/aws",
        "Update provisioning configuration.",
        body=AwsIoTCoreConfiguration,
        multipart=("provisioning", *CERT_FILES),
        resource="/aws",
    ),
    *_cloud("/aws", "shadow", runtime="AWS"),
    *_groups("/aws/messages", "/aws/messages/{id}"),
    _op("PUT", "/aws/messages/test", "test custom payload.", body=MessageTest),
    # ---- Azure IoT Edge: its 400s are {"error": "<text>"} where it declares them
    _op("GET", "/azure-iotedge", "Get azure iotedge configuration."),
    _op(
        "PATCH",
        "/azure-iotedge",
        "Update azure iotedge configuration.",
        body=AzureIoTEdgeConfiguration,
        errors="text",
        resource="/azure-iotedge",
    ),
    _op(
        "PUT",
        "/azure-iotedge/reset",
        "Reset AIE APP(include iotedge runtime pkgs).",
        answer="accepted",
        errors="text",
    ),
    _op("PUT", "/azure-iotedge/restart", "Control azure iotedge service.", errors="text"),
    _op("PUT", "/azure-iotedge/modules/{name}/restart", "Restart azure module.", errors="text"),
    _op(
        "POST",
        "/azure-iotedge/certificates",
        "Import user certificates and update azure iotedge configuration.",
        multipart=("caCertFile", "caPkFile", "trustedCaFile"),
        errors="text",
        resource="/azure-iotedge",
    ),
    _op("GET", "/azure-iotedge/twin/properties", "get twin properties setting."),
    _op(
        "PUT",
        "/azure-iotedge/twin/properties",
        "update twin properties setting.",
        body=DeviceProperties,
        errors="text",
        resource="/azure-iotedge/twin/properties",
    ),
    _op("PUT", "/azure-iotedge/twin/reported", "reported twin properties.", errors="text"),
    _op("PUT", "/azure-iotedge/twin/clear", "clear twin properties.", body=ClearProperties, errors="text"),
    *_groups("/azure-iotedge/messages", "/azure-iotedge/messages/{id}", errors="text"),
    _op("PUT", "/azure-iotedge/messages/test", "test custom payload.", body=MessageTest, errors="text"),
    # ---- Sparkplug
    # GET /sparkplug is live only with ?event=true (the brokers' runtime status): see is_live
    _op("GET", "/sparkplug", "Get Sparkplug configuration.", query=(QueryParam("event", "boolean"),)),
    _op(
        "PUT",
        "/sparkplug",
        "Update Sparkplug configuration.(BrokerList is readOnly in this endpoint)",
        body=SparkplugConfiguration,
        resource="/sparkplug",
    ),
    _op(
        "GET",
        "/sparkplug/configuration",
        "Download configurations",
        answer="zip",
        query=(QueryParam("encryption", "boolean"),),
        header_params=("password",),
    ),
    _op(
        "PUT",
        "/sparkplug/configuration",
        "Upload configurations",
        multipart=("decryption", "file", "password"),
    ),
    _op("GET", "/sparkplug/brokers", "Get Sparkplug brokers configuration."),
    _op(
        "PUT",
        "/sparkplug/brokers",
        "Update Sparkplug brokers configuration.",
        body=SparkplugBrokers,
        resource="/sparkplug/brokers",
    ),
    _op(
        "POST",
        "/sparkplug/brokers",
        "Create a new Sparkplug broker configuration.",
        body=SparkplugBrokerConfiguration,
        multipart=BROKER_FORM,
        resource="/sparkplug/brokers",
    ),
    _op(
        "PUT",
        "/sparkplug/brokers/{id}",
        "Update Sparkplug broker configuration.",
        body=SparkplugBrokerConfiguration,
        multipart=BROKER_FORM,
    ),
    _op(
        "DELETE",
        "/sparkplug/brokers/{id}",
        "Delete Sparkplug broker configuration.",
        resource="/sparkplug/brokers",
    ),
    *_cloud(
        "/sparkplug",
        "node",
        store=StoreAndForwardWithBulkUpload,
        put_summary="update twin properties setting.",  # sic, Moxa's
    ),
    _op("GET", "/sparkplug/properties", "get node properties setting."),
    _op(
        "PUT",
        "/sparkplug/properties",
        "edit node properties setting.",
        body=SparkplugProperties,
        resource="/sparkplug/properties",
    ),
    _op("GET", "/sparkplug/messages", "get message groups setting.", answer="bare", query=SPARKPLUG_TYPE),
    _op(
        "POST",
        "/sparkplug/messages",
        "create a message group.",
        body=SparkplugMessagePolicy,
        answer="bare",
        query=SPARKPLUG_TYPE,
        resource="/sparkplug/messages",
    ),
    _op("GET", "/sparkplug/messages/{id}", "get message group setting."),
    _op(
        "PUT",
        "/sparkplug/messages/{id}",
        "update message group setting.",
        body=SparkplugMessagePolicy,
        resource="/sparkplug/messages/{id}",
    ),
    _op(
        "DELETE",
        "/sparkplug/messages/{id}",
        "delete message group setting.",
        answer="bare",
        resource="/sparkplug/messages",
    ),
)


BY_KEY: dict[tuple[str, str], Operation] = {(op.method, op.path): op for op in OPERATIONS}


def operation(method: str, path: str) -> Operation:
    """The operation of a method and a path template (``KeyError`` when Moxa has none)."""
    return BY_KEY[(method.upper(), path)]


def match(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    """The operation a concrete path (relative to ``/api/v1``) addresses, and its path parameters.
    Literal segments win over ``{params}``, leftmost first, as API Gateway routes: ``/mqtt/monitor`` is
    not ``/mqtt/{id}``, ``/mqtt/1/messages/test`` not ``/mqtt/{id}/messages/{group_id}``."""
    if not path.startswith("/"):
        return None
    segments = path[1:].split("/")
    best: tuple[tuple[bool, ...], Operation, dict[str, str]] | None = None
    for op in OPERATIONS:
        if op.method != method.upper() or len(op.segments) != len(segments):
            continue
        params: dict[str, str] = {}
        for template, segment in zip(op.segments, segments, strict=True):
            if template.startswith("{"):
                if not segment:
                    break
                params[template[1:-1]] = segment
            elif template != segment:
                break
        else:
            rank = tuple(s.startswith("{") for s in op.segments)  # False (a literal) sorts first
            if best is None or rank < best[0]:
                best = (rank, op, params)
    return None if best is None else (best[1], best[2])


def is_live(operation: Operation, query: Mapping[str, str] | None = None) -> bool:
    """Whether the answer must come from the gateway now: the runtime reads (``…/monitor``,
    ``…/check``), and ``GET /sparkplug?event=true`` (the brokers' runtime status)."""
    if operation.live:
        return True
    if (operation.method, operation.path) == ("GET", "/sparkplug"):
        return (query or {}).get("event") == "true"  # the spelling validate_params accepts
    return False


# --------------------------------------------------------------------------- validation
_TYPE_NAMES = {
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be a boolean",
    "string_type": "must be a string",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be an array",
    "missing": "is required",
    "extra_forbidden": "is not a field of this body",
}


def _where(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else part
    return out or "body"


_RULES: dict[str, str] = {
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "literal_error": "must be one of {expected}",
    "value_error": "{error}",
}


def _rule(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "string_too_short" and error["ctx"]["min_length"] == 1:
        return "must not be empty"
    if kind in _TYPE_NAMES:
        return _TYPE_NAMES[kind]
    if kind in _RULES:
        return _RULES[kind].format(**(error.get("ctx") or {}))
    return str(error["msg"])


def _message(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where, rule = _where(tuple(error["loc"])), _rule(error)
    if error["type"] == "value_error" and ":" in rule and where == "body":
        return rule  # a rule across fields names its own field ("clientID: …")
    return f"{where}: {rule}"


def _clean(value: Any) -> Any:
    """The body as sent, without read-only fields (and without fields that were not sent)."""
    if isinstance(value, RootModel):
        return _clean(value.root)
    if isinstance(value, BaseModel):
        cls = type(value)
        return {
            name: _clean(getattr(value, name))
            for name in cls.model_fields
            if name in value.model_fields_set and not _is_read_only(cls, name)
        }
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def validate(operation: Operation, body: object) -> object:
    """The cleaned JSON body of a request to ``operation`` (read-only fields removed), or
    ``InvalidRequest`` naming the field and the rule it breaks (``keepAliveSec: must be at least 10``).
    ``body`` is the parsed JSON, None when the request has none."""
    if operation.body is None:
        if body is not None:
            raise InvalidRequest(f"{operation.method} {operation.path} takes no JSON body")
        return None
    if body is None:
        raise InvalidRequest("body: is required")
    try:
        model = operation.body.model_validate(body)
    except ValidationError as exc:
        raise InvalidRequest(_message(exc)) from None
    return _clean(model)


# --------------------------------------------------------------------------- multipart forms
# The form fields that are not files and not fields of the operation's JSON model (the form-only
# operations), with Moxa's rules for them.
_FORM_ONLY: dict[str, Any] = {
    "connectionString": Annotated[str, Field(strict=True, min_length=1, max_length=1024)],
    "protocol": Literal["mqtt", "mqttOverWebsocket", "amqp", "amqpOverWebsocket"],
    "decryption": StrictBool,
    "password": Annotated[str, Field(strict=True, max_length=255)],
}
FILE_FIELDS = frozenset({*CERT_FILES, "trustedCaFile", "file"})


def is_file_field(name: str) -> bool:
    return name in FILE_FIELDS


def validate_form(operation: Operation, fields: Mapping[str, str]) -> dict[str, Any]:
    """A multipart form's fields as the JSON body of the remote request: a file as its text; any other
    field checked against the type the operation's JSON model (or Moxa's form) gives it, taken as the
    text itself when that type is text, else as JSON text (``1883``, ``true``, ``{"enable": true}``);
    ``InvalidRequest`` naming the field otherwise."""
    out: dict[str, Any] = {}
    for name, text in fields.items():
        if name not in operation.multipart:
            raise InvalidRequest(f"{name}: is not a field of this form")
        if name in FILE_FIELDS:
            out[name] = text
            continue
        model_field = operation.body.model_fields.get(name) if isinstance(operation.body, type) else None
        annotation = model_field.annotation if model_field is not None else _FORM_ONLY.get(name, StrictStr)
        metadata = model_field.metadata if model_field is not None else []
        typed: Any = Annotated[annotation, *metadata] if metadata else annotation
        adapter: TypeAdapter[Any] = TypeAdapter(typed)
        out[name] = _clean(_form_value(adapter, name, text))
    return out


def _form_value(adapter: TypeAdapter[Any], name: str, text: str) -> Any:
    """The field's text if its type takes text, else the JSON the text holds."""
    try:
        return adapter.validate_python(text)
    except ValidationError as as_text:
        refusal = as_text
    try:
        value = json.loads(text)
    except ValueError:
        raise _form_refusal(name, refusal) from None
    try:
        return adapter.validate_python(value)
    except ValidationError as as_json:
        raise _form_refusal(name, as_json) from None


def _form_refusal(name: str, exc: ValidationError) -> InvalidRequest:
    message = _message(exc)
    where = f"{name}: " if message.startswith("body: ") else f"{name}."
    return InvalidRequest(where + message.removeprefix("body: "))


_ID = re.compile(r"[1-9][0-9]*")
INTEGER_PARAMS = frozenset({"id", "group_id"})


def _path_param(name: str, value: str) -> int | str:
    if name in INTEGER_PARAMS:
        if not _ID.fullmatch(value) or int(value) > MAX_ID:
            raise InvalidRequest(f"{name}: must be an integer of at least 1")
        return int(value)
    if name == "name":
        # a module name (Moxa's document declares it as the enum ["restart"], which is the action, not the
        # module: the notes and the route's own 400 "Need input module name" say it is the module)
        if not 1 <= len(value) <= MAX_MODULE_NAME or "/" in value:
            raise InvalidRequest(f"name: must be 1 to {MAX_MODULE_NAME} characters without '/'")
        return value
    raise InvalidRequest(f"{name}: is not a path parameter")


def _query_value(param: QueryParam, value: str) -> bool | str:
    if param.type == "boolean":
        if value not in ("true", "false"):
            raise InvalidRequest(f"{param.name}: must be true or false")
        return value == "true"
    if param.enum and value not in param.enum:
        raise InvalidRequest(f"{param.name}: must be one of {', '.join(param.enum)}")
    return value


def validate_params(
    operation: Operation, params: Mapping[str, str], query: Mapping[str, str] | None = None
) -> tuple[dict[str, int | str], dict[str, bool | str]]:
    """The path parameters (``{id}``, ``{group_id}`` as integers) and the query parameters (booleans as
    booleans) of a request to ``operation``, or ``InvalidRequest``: a parameter the operation does not
    declare is refused as an unknown key of a body is."""
    expected = [s[1:-1] for s in operation.segments if s.startswith("{")]
    if sorted(params) != sorted(expected):
        raise InvalidRequest(f"path parameters: expected {', '.join(expected) or 'none'}")
    path_values = {name: _path_param(name, params[name]) for name in expected}
    declared = {p.name: p for p in operation.query}
    query_values: dict[str, bool | str] = {}
    for name, value in (query or {}).items():
        if name not in declared:
            raise InvalidRequest(f"{name}: is not a query parameter of {operation.method} {operation.path}")
        query_values[name] = _query_value(declared[name], value)
    return path_values, query_values


# --------------------------------------------------------------------------- OpenAPI
_FILES = frozenset({*CERT_FILES, "trustedCaFile", "file"})
_ERROR_SCHEMAS: dict[Errors, dict[str, Any]] = {
    "core": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
            }
        },
    },
    "text": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
}


def _operation_id(op: Operation) -> str:
    words = re.split(r"[^A-Za-z0-9]+", op.path.replace("{", "by-").replace("}", ""))
    return "thingspro" + op.method.capitalize() + "".join(w[:1].upper() + w[1:] for w in words if w)


def _parameters(op: Operation) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"name": "gateway_id", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    for segment in op.segments:
        if segment.startswith("{"):
            name = segment[1:-1]
            schema: dict[str, Any] = (
                {"type": "integer", "minimum": 1}
                if name in INTEGER_PARAMS
                else {"type": "string", "minLength": 1, "maxLength": MAX_MODULE_NAME, "pattern": "^[^/]+$"}
            )
            out.append({"name": name, "in": "path", "required": True, "schema": schema})
    for q in op.query:
        qs: dict[str, Any] = {"type": q.type}
        if q.enum:
            qs["enum"] = list(q.enum)
        out.append({"name": q.name, "in": "query", "required": False, "schema": qs})
    out.extend(
        {"name": h, "in": "header", "required": False, "schema": {"type": "string"}} for h in op.header_params
    )
    return out


# --------------------------------------------------------------------------- the document's operations
def _spec_parameters(op: Operation) -> tuple[spec.Parameter, ...]:
    given = [spec.Parameter(p["name"], p["in"], p["schema"], required=p["required"]) for p in _parameters(op)]
    return (*given, EXPIRES_IN)


EXPIRES_IN = spec.Parameter(
    "X-Fleetgate-Expires-In",
    "header",
    {"type": "integer", "minimum": tpe.MIN_LIFETIME_S, "maximum": tpe.MAX_LIFETIME_S},
    "seconds a change may wait for an offline gateway (default a day): its request-expired-time",
)
PENDING = spec.header("open requests that may still change what this answer shows", {"type": "integer"})
_QUEUED = spec.Answer(
    202,
    "Not answered by the gateway within the long-poll cap: the request to follow",
    spec.schema(
        {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {
                    "type": "object",
                    "required": ["requestId", "state", "expiresAt"],
                    "properties": {
                        "requestId": {"type": "string"},
                        "state": {"type": "string"},
                        "expiresAt": {"type": "string", "format": "date-time"},
                    },
                }
            },
        }
    ),
    name="ThingsProQueued",
)


def _error(status: int, description: str, style: Errors) -> spec.Answer:
    return spec.Answer(status, description, spec.schema(_ERROR_SCHEMAS[style]))


def _success_answer(op: Operation) -> spec.Answer:
    if op.answer == "zip":
        body = spec.schema({"type": "string", "format": "binary"}, "application/zip")
        return spec.Answer(200, "The gateway's configuration archive", body, {"X-Fleetgate-Pending": PENDING})
    if op.answer == "bare":
        body = spec.schema({"type": "array", "items": {}})
    else:
        body = spec.schema(
            {
                "type": "object",
                "properties": {
                    "data": {},
                    "pending": {"type": "array", "description": "fleetgate: open requests (reads)"},
                },
            }
        )
    status = 202 if op.answer == "accepted" else 200
    return spec.Answer(
        status, "The gateway's answer (secrets masked)", body, {"X-Fleetgate-Pending": PENDING}
    )


def spec_operations() -> tuple[spec.Operation, ...]:
    """Every ThingsPro route as the document shows it: Moxa's operations under the gateway's prefix,
    and its sign-in."""
    security: tuple[dict[str, list[str]], ...] = ({SECURITY_SCHEME: []},)
    out: list[spec.Operation] = []
    for op in OPERATIONS:
        request: spec.Body | None = None
        if op.body is not None and op.json_body:
            request = spec.model(op.body)
        if op.multipart:
            form = spec.schema(
                {
                    "type": "object",
                    "properties": {
                        name: {"type": "string", "format": "binary"} if name in _FILES else {}
                        for name in op.multipart
                    },
                },
                "multipart/form-data",
            )
            request = form if request is None else request | form
        success = _success_answer(op)
        answers = [success]
        if success.status != 202:
            answers.append(_QUEUED)
        answers += [
            _error(400, "The request breaks Moxa's schema, or the gateway refused it", op.errors),
            _error(401, "No valid ThingsPro token", op.errors),
            _error(404, "No such gateway, or the gateway has no such resource", op.errors),
            _error(413, "The body is over 256 KB", op.errors),
            _error(503, "AWS is busy: retry", op.errors),
            _error(504, "The request ended without the gateway's answer (expired, unanswered)", op.errors),
        ]
        out.append(
            spec.Operation(
                method=op.method,
                path=ROUTE_PREFIX + op.path,
                operation_id=_operation_id(op),
                tag=TAG,
                summary=op.summary,
                answers=tuple(sorted(answers, key=lambda a: a.status)),
                parameters=_spec_parameters(op),
                request=request,
                security=security,
            )
        )
    gateway = spec.path("gateway_id", {"type": "string"}, "the gateway's id")
    token = spec.schema(
        {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {
                    "type": "object",
                    "required": ["token", "user"],
                    "properties": {"token": {"type": "string"}, "user": {"type": "object"}},
                }
            },
        }
    )
    login = spec.schema(
        {
            "type": "object",
            "required": ["name", "password"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "password": {"type": "string", "minLength": 1},
                "acceptEULA": {"type": "boolean"},
            },
        }
    )
    core: Errors = "core"
    out.append(
        spec.Operation(
            "POST",
            ROUTE_PREFIX + "/auth",
            "thingsproLogin",
            TAG,
            "Sign in (an operator's name and password) for a ThingsPro token",
            (
                spec.Answer(200, "The token (an hour) and the user", token),
                _error(400, "name and password are required", core),
                _error(401, "Incorrect name or password", core),
                _error(404, "No such gateway", core),
            ),
            parameters=(gateway,),
            request=login,
        )
    )
    out.append(
        spec.Operation(
            "GET",
            ROUTE_PREFIX + "/auth",
            "thingsproCheckToken",
            TAG,
            "Whether the token is valid",
            (
                spec.Answer(
                    200, "Valid", spec.schema({"type": "object", "properties": {"data": {"type": "string"}}})
                ),
                _error(401, "Not a valid token", core),
                _error(404, "No such gateway", core),
            ),
            parameters=(gateway,),
            security=security,
        )
    )
    return tuple(out)
