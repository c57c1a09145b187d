"""A factory-fresh ThingsPro Edge's state: Moxa's documented defaults (ThingsPro Cloud APIs 2.4.0), and
its examples where a default is not documented (the disk of the store-and-forward, the Sparkplug node
and group, the twin's default properties ``general`` and ``wan``).

Invariants:
- Every value has the JSON type Moxa's schema gives the field (so ``tlsVersion`` is ``"1.2"``, not the
  number the document writes as its default, and the Azure protocol capabilities' ports are strings as
  the schema says, though its example shows numbers): the gateway's answers are built from these values,
  and an update may only keep a field's type (``gateway._merge``).
- Every function returns a new object: callers own and mutate what they get.
"""

from __future__ import annotations

import copy
from typing import Any

_DISKS = [
    {
        "name": "System",
        "mount": "/",
        "device": "/dev/root",
        "total": 3206059008,
        "used": 6059008,
        "free": 3200000000,
    }
]

_STORE_AND_FORWARD: dict[str, Any] = {
    "enable": False,
    "targetDiskName": "System",
    "desiredDiskCacheSizeMB": 8,
    "timeToLiveSec": 7200,
    "dropBehavior": "oldest",
    "disks": _DISKS,
}

_MQTT_CLIENT: dict[str, Any] = {
    "enable": False,
    "status": "disconnect",
    "protocolVersion": "3.1.1",
    "server": "",
    "port": 1883,
    "keepAliveSec": 60,
    "handshakeTimeout": 10,
    "retryInterval": 60,
    "clearSession": True,
    "certificateOverTLS": False,
    "clientID": "",
    "userName": "",
    "password": "",
    "tlsVersion": "1.2",
    "insecureSkipVerify": False,
    "certificate": {"rootCaCertFile": "", "caCertFile": "", "caPkFile": ""},
    "qos": 1,
    "retain": False,
    "willMessage": {"enable": False, "topic": "will", "message": "", "qos": 1, "retain": False},
    "remoteAPI": {
        "enable": False,
        "requestSubTopic": "request",
        "responsePubTopic": "response",
        "qos": 1,
        "retain": False,
    },
}

_MESSAGE_GROUP: dict[str, Any] = {
    "enable": False,
    "format": "",
    "properties": [],
    "tags": {},
    "outputTopic": "sample",
    "onChange": False,
    "minPublishInterval": 0,
    "samplingMode": "allChangedValues",
    "customSamplingRate": False,
    "pollingInterval": 0,
    "sendOutThreshold": {
        "mode": "byTime",
        "time": 60,
        "size": 4096,
        "sizeIdleTimer": {"enable": True, "time": 60},
    },
}

_SPARKPLUG_MESSAGE_GROUP: dict[str, Any] = {
    "enable": False,
    "tags": {},
    "onChange": False,
    "minPublishInterval": 0,
    "samplingMode": "allChangedValues",
    "customSamplingRate": False,
    "pollingInterval": 10,
    "sendOutThreshold": {
        "mode": "byTime",
        "time": 60,
        "size": 4096,
        "sizeIdleTimer": {"enable": True, "time": 60},
    },
}

_SPARKPLUG_BROKER: dict[str, Any] = {
    "status": "disconnect",
    "lastConectedTime": "",
    "enable": False,
    "server": "",
    "port": 1883,
    "keepAliveSec": 60,
    "certificateOverTLS": False,
    "clientID": "",
    "userName": "",
    "password": "",
    "tlsVersion": "1.2",
    "insecureSkipVerify": False,
    "certificate": {"rootCaCertFile": "", "caCertFile": "", "caPkFile": ""},
}

TWIN_PROPERTIES: dict[str, Any] = {
    "device": {
        "general": [{"reportedPath": "general", "desiredPath": "general"}],
        "wan": [{"reportedPath": "wan", "desiredPath": "wan"}],
    }
}

AZURE_PROTOCOL_PORTS = {"mqtt": 8883, "mqttOverWebsocket": 443, "amqp": 5671, "amqpOverWebsocket": 443}

CELLULAR_IP = {"source": "ip", "reportedPath": "Properties.Cellular IP"}

IOTEDGE_MODULES = ["edgeAgent", "edgeHub", "thingspro-agent"]


def store_and_forward(bulk_upload: bool = False) -> dict[str, Any]:
    value = copy.deepcopy(_STORE_AND_FORWARD)
    if bulk_upload:
        value["bulkUpload"] = {"enable": False, "size": 128}
    return value


def mqtt_client() -> dict[str, Any]:
    return copy.deepcopy(_MQTT_CLIENT)


def message_group(sparkplug: bool = False) -> dict[str, Any]:
    return copy.deepcopy(_SPARKPLUG_MESSAGE_GROUP if sparkplug else _MESSAGE_GROUP)


def sparkplug_broker() -> dict[str, Any]:
    return copy.deepcopy(_SPARKPLUG_BROKER)


def azure_device() -> dict[str, Any]:
    return {
        "status": "disconnect",
        "provisioning": {
            "enable": False,
            "protocol": {
                "capabilities": [
                    {"protocol": name, "port": str(port)} for name, port in AZURE_PROTOCOL_PORTS.items()
                ],
                "protocol": "mqtt",
                "port": AZURE_PROTOCOL_PORTS["mqtt"],
            },
            "keepAlive": 60,
            "supportTwin": True,
            "authenticationType": "symmetricKey",
            "certificate": {"caCertFile": "", "caPkFile": ""},
            "rootCaCertFile": "",
        },
    }


def aws() -> dict[str, Any]:
    return {
        "status": "disconnect",
        "provisioning": {
            "enable": False,
            "host": "",
            "port": 8883,
            "thingID": "",
            "messageQOS": 0,
            "keepAliveSec": 60,
            "supportDM": True,
            "certificate": {"rootCaCertFile": "", "caCertFile": "", "caPkFile": ""},
        },
    }


def azure_iotedge() -> dict[str, Any]:
    return {
        "iotedge": {
            "version": "1.4.23",
            "status": "running",
            "since": "",
            "match": True,
            "suggestion": "",
            "modules": [
                {
                    "status": "running",
                    "config": f"mcr.microsoft.com/azureiotedge-{name}:1.4.23",
                    "name": name,
                    "match": True,
                    "suggestion": "",
                }
                for name in IOTEDGE_MODULES
            ],
        },
        "provisioning": {
            "enable": False,
            "supportTwin": True,
            "globalEndpoint": "https://global.azure-devices-provisioning.net",
            "source": "manual",
            "method": "tpm",
            "endorsementKey": "",
        },
        "downstreamCerts": {
            "mode": "default",
            "caCertFile": "",
            "caPkFile": "",
            "trustedCaFile": "",
            "certificateInfo": {"issuer": "", "notAfter": "", "subject": {"cn": ""}},
        },
        "edgeAgentURI": "mcr.microsoft.com/azureiotedge-agent:1.4.23",
    }


def sparkplug() -> dict[str, Any]:
    return {
        "enable": False,
        "enableDM": False,
        "nodeID": "thingspro-edge",
        "groupID": "thingspro-edges",
        "uuid": "",
        "primaryHostID": "",
        "handshakeTimeout": 10,
        "maxRetries": 3,
        "retryInterval": 60,
    }


def state() -> dict[str, Any]:
    """The whole state of a fresh gateway (no MQTT client yet; every cloud service disabled)."""
    return {
        "mqtt": {"clients": [], "storeAndForward": {}, "messages": {}},
        "azure-device": {
            "config": azure_device(),
            "twin": copy.deepcopy(TWIN_PROPERTIES),
            "storeAndForward": store_and_forward(),
            "messages": [],
        },
        "aws": {
            "config": aws(),
            "shadow": copy.deepcopy(TWIN_PROPERTIES),
            "storeAndForward": store_and_forward(),
            "messages": [],
        },
        "azure-iotedge": {
            "config": azure_iotedge(),
            "twin": copy.deepcopy(TWIN_PROPERTIES),
            "messages": [],
            "resetUntil": "",
        },
        "sparkplug": {
            "config": sparkplug(),
            "brokers": [],
            "node": copy.deepcopy(TWIN_PROPERTIES),
            "storeAndForward": store_and_forward(bulk_upload=True),
            "properties": {"selections": {"device": {"cellulars": [dict(CELLULAR_IP)]}}},
            "messages": {"node": [], "device": []},
        },
        "system": {"sshserver": {"enable": True, "port": 22}},
        "tagValues": {},
        "nextId": {},
    }
