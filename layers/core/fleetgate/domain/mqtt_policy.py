"""What an MQTT device may do on AWS IoT Core: the answer of the device authorizer (an AWS IoT custom
authorizer) and the policy documents in it. Pure: no I/O, no clock.

A device connects with its id as MQTT username and its access token as password. Allowed, it gets:

- ``iot:Connect`` on ``client/<id>`` and ``client/<name>``: its client id is its id or its name (a
  ThingDatas thing answers commands as its ``thingName``, AWS IoT's convention for thing-bound clients);
- its own topics: ``iot:Publish``/``iot:Receive`` on ``topic/v1/device/<id>/*``, ``iot:Subscribe`` on
  ``topicfilter/v1/device/<id>/*`` (the Xyte dialect's topics);
- its ThingDatas command topics: subscribe to and receive ``{prefix}/commands/things/<name>/*``, publish
  only answers, ``{prefix}/commands/things/<name>/executions/*/response``;
- a ThingsPro gateway (``gateway``), its remote-API and message-group topics: subscribe to and receive
  ``thingspro/<id>/api/request``, publish ``thingspro/<id>/api/response`` and under
  ``thingspro/<id>/messages/``.

Invariants:
- ids, names and the prefix are inlined (no policy variables), so what a device may do does not depend
  on what it sends at CONNECT;
- ``principalId`` matches ``[a-zA-Z0-9]{1,128}`` (AWS refuses any other), derived from the device id;
- every policy document is at most 2,048 characters, and there are at most 10 (AWS's limits), for the
  longest ids, names and prefixes the registry and the template allow.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

PRINCIPAL_PATTERN = re.compile(r"[a-zA-Z0-9]{1,128}\Z")
MAX_POLICY_CHARS = 2048
MAX_POLICY_DOCUMENTS = 10
DISCONNECT_AFTER_S = 86_400  # AWS's longest connection before the device must reconnect (and re-authorize)
REFRESH_AFTER_S = 300  # AWS's shortest: a deleted device or a regenerated token loses access within 5 min
DEVICE_TOPIC_ROOT = "v1/device"  # the Xyte dialect's topics: v1/device/{id}/...
THINGSPRO_TOPIC_ROOT = "thingspro"  # a ThingsPro gateway's topics: thingspro/{id}/... (domain.thingspro)
POLICY_VERSION = "2012-10-17"
_ARN = re.compile(
    r"arn:(?P<partition>[a-z-]+):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:.+\Z"
)


@dataclass(frozen=True)
class ArnScope:
    """Where the device's resources live: ``arn:<partition>:iot:<region>:<account>:...``."""

    partition: str
    region: str
    account: str

    @classmethod
    def of_function(cls, function_arn: str) -> ArnScope:
        """The scope of the authorizer's own function ARN (the Lambda context's ``invoked_function_arn``);
        ``ValueError`` for anything else."""
        match = _ARN.match(function_arn or "")
        if match is None:
            raise ValueError("not a Lambda function ARN")
        return cls(match["partition"], match["region"], match["account"])

    def arn(self, resource: str) -> str:
        return f"arn:{self.partition}:iot:{self.region}:{self.account}:{resource}"


def principal_id(device_id: str) -> str:
    """The device id without what AWS refuses in a principal (a UUID's hyphens): 32 hex digits."""
    principal = re.sub(r"[^a-zA-Z0-9]", "", device_id)[:128]
    if not PRINCIPAL_PATTERN.match(principal):
        raise ValueError("a device id must hold at least one letter or digit")
    return principal


def device_policies(
    device_id: str, thing_name: str, scope: ArnScope, command_topic_prefix: str, *, gateway: bool = False
) -> list[str]:
    """The policy documents (JSON text, compact) of one device: its own topics, then its command topics,
    then, for a ThingsPro gateway, its remote-API and message-group topics."""
    clients = [scope.arn(f"client/{client}") for client in dict.fromkeys([device_id, thing_name])]
    own = f"{DEVICE_TOPIC_ROOT}/{device_id}"
    commands = f"{command_topic_prefix}/commands/things/{thing_name}"
    documents = [
        _document(
            _allow("iot:Connect", clients),
            _allow(["iot:Publish", "iot:Receive"], [scope.arn(f"topic/{own}/*")]),
            _allow("iot:Subscribe", [scope.arn(f"topicfilter/{own}/*")]),
        ),
        _document(
            _allow("iot:Subscribe", [scope.arn(f"topicfilter/{commands}/*")]),
            _allow("iot:Receive", [scope.arn(f"topic/{commands}/*")]),
            _allow("iot:Publish", [scope.arn(f"topic/{commands}/executions/*/response")]),
        ),
    ]
    if gateway:
        root = f"{THINGSPRO_TOPIC_ROOT}/{device_id}"
        documents.append(
            _document(
                _allow("iot:Subscribe", [scope.arn(f"topicfilter/{root}/api/request")]),
                _allow("iot:Receive", [scope.arn(f"topic/{root}/api/request")]),
                _allow(
                    "iot:Publish",
                    [scope.arn(f"topic/{root}/api/response"), scope.arn(f"topic/{root}/messages/*")],
                ),
            )
        )
    for document in documents:
        if len(document) > MAX_POLICY_CHARS:
            raise ValueError(f"a policy document is over {MAX_POLICY_CHARS} characters")
    return documents


def allowed(
    device_id: str, thing_name: str, scope: ArnScope, command_topic_prefix: str, *, gateway: bool = False
) -> dict[str, Any]:
    """The authorizer's answer for a device that proved who it is."""
    return {
        "isAuthenticated": True,
        "principalId": principal_id(device_id),
        "disconnectAfterInSeconds": DISCONNECT_AFTER_S,
        "refreshAfterInSeconds": REFRESH_AFTER_S,
        "policyDocuments": device_policies(
            device_id, thing_name, scope, command_topic_prefix, gateway=gateway
        ),
    }


def denied() -> dict[str, Any]:
    """The authorizer's answer for any other connection: IoT Core refuses it at CONNECT."""
    return {
        "isAuthenticated": False,
        "principalId": "denied",
        "disconnectAfterInSeconds": REFRESH_AFTER_S,
        "refreshAfterInSeconds": REFRESH_AFTER_S,
        "policyDocuments": [],
    }


def _allow(actions: str | list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": POLICY_VERSION, "Statement": list(statements)}, separators=(",", ":"))
