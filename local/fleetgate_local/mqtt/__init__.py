"""MQTT in the local stack: what AWS IoT Core does for fleetgate's devices, without Docker or an account.

- ``broker``: a real Mosquitto 2 on a free loopback port, its clients and ACLs in the dynamic security
  plugin;
- ``front``: the port devices connect to; it runs the template's default custom authorizer at CONNECT,
  turns the policy into ACLs and taps every PUBLISH (``packets``, ``policy``);
- ``rules``: every ``AWS::IoT::TopicRule`` of the template (``sql``), invoking functions asynchronously
  with retries and dead-letter queues;
- ``bridge``: the ``iot-data`` Publish the functions call, into Mosquitto and through the rules.

``LocalMqtt`` puts them together for ``LocalStack``: ``prepare`` starts the broker and binds the data
plane (whose URL the functions' environment needs), ``start`` the rest once the functions can run.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetgate_local.intrinsics import as_text
from fleetgate_local.mqtt.bridge import DataPlane
from fleetgate_local.mqtt.broker import BRIDGE, Dynsec, Mosquitto, MosquittoUnavailable, client
from fleetgate_local.mqtt.front import MqttFront
from fleetgate_local.mqtt.rules import RETRY_DELAYS_S, RuleRunner, dead_letter_queues, template_rules
from fleetgate_local.resources import Provisioned
from fleetgate_local.template import Template

__all__ = ["LocalMqtt", "MosquittoUnavailable", "default_authorizer"]

Invoke = Callable[[str, dict[str, Any]], Any]


def default_authorizer(template: Template, provisioned: Provisioned) -> str | None:
    """The function (logical id) of the first domain configuration's ACTIVE default authorizer."""
    resources = template.resources()

    def resolved(logical_id: str) -> dict[str, Any]:
        properties: dict[str, Any] = template.resolve(
            resources[logical_id].get("Properties") or {}, provisioned.physical_ids, provisioned.attributes
        )
        return properties

    functions = {provisioned.attributes[f.logical_id]["Arn"]: f.logical_id for f in template.functions()}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IoT::DomainConfiguration":
            continue
        name = (resolved(logical_id).get("AuthorizerConfig") or {}).get("DefaultAuthorizerName")
        for authorizer, kind in provisioned.types.items():
            if kind != "AWS::IoT::Authorizer" or provisioned.physical_ids.get(authorizer) != name:
                continue
            properties = resolved(authorizer)
            if as_text(properties.get("Status", "ACTIVE")) == "ACTIVE":
                return functions.get(as_text(properties.get("AuthorizerFunctionArn", "")))
    return None


class LocalMqtt:
    """Mosquitto, the front, the rules engine and the data plane of one local stack."""

    def __init__(
        self,
        template: Template,
        provisioned: Provisioned,
        *,
        sqs: Any,
        log: Callable[[str], None],
        host: str = "127.0.0.1",
        port: int = 0,
        retry_delays: tuple[float, ...] = RETRY_DELAYS_S,
        moto_url: str | None = None,
        listener: socket.socket | None = None,
    ) -> None:
        self.template = template
        self.provisioned = provisioned
        self.log = log
        self.host = host
        self.port = port
        self._sqs = sqs
        self._retry_delays = retry_delays
        self._directory = Path(tempfile.mkdtemp(prefix="fleetgate-mqtt-"))
        self.broker = Mosquitto(self._directory, log)
        self.data_plane = DataPlane(log, moto_url)
        self.rules: RuleRunner | None = None
        self.authorizer: str | None = None
        self._dynsec: Dynsec | None = None
        self._front: MqttFront | None = None
        self._listener = listener  # the devices' port, bound by the caller; the front takes it over

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self._front.port}" if self._front else ""

    def prepare(self) -> str:
        """Start Mosquitto; returns the data plane's URL (``AWS_ENDPOINT_URL_IOT_DATA_PLANE``)."""
        self.broker.start()
        self.log(f"mqtt: Mosquitto ready in {self.broker.started_in_ms:.0f} ms (pid {self.broker.pid})")
        return self.data_plane.url

    def start(self, invoke: Invoke) -> LocalMqtt:
        """Run the rules, the data plane and the front; ``invoke`` runs a function of the template."""
        template, provisioned = self.template, self.provisioned
        self.rules = RuleRunner(
            template_rules(template, provisioned, self.log),
            invoke,
            dead_letter_queues(template, provisioned),
            self._sqs,
            self.log,
            retry_delays=self._retry_delays,
        )
        self._dynsec = Dynsec(self.broker)
        bridge = client(f"{BRIDGE}-{self.broker.port}", BRIDGE, self.broker.bridge_password, self.broker.port)
        self.data_plane.start(bridge, self.rules.submit)
        self.authorizer = default_authorizer(template, provisioned)
        authorizer = self.authorizer
        if authorizer is None:
            self.log("mqtt: the template has no active default authorizer: every CONNECT is refused")

        def authorize(event: dict[str, Any]) -> Any:
            if authorizer is None:
                raise LookupError("no default authorizer")
            return invoke(authorizer, event)

        self._front = MqttFront(
            (self.host, self.port),
            broker_port=self.broker.port,
            dynsec=self._dynsec,
            authorize=authorize,
            tap=self.rules.submit,
            arn_prefix=f"arn:aws:iot:{template.region}:{template.account_id}:",
            server_name=f"local-ats.iot.{template.region}.amazonaws.com",
            log=self.log,
            listener=self._listener,
        ).start()
        self._listener = None
        return self

    def stop(self) -> None:
        """Stop the front, the data plane, the rules and Mosquitto (idempotent)."""
        if self._front is not None:
            self._front.stop()
            self._front = None
        if self._listener is not None:  # stopped before the front took it over
            self._listener.close()
            self._listener = None
        self.data_plane.stop()
        if self.rules is not None:
            self.rules.close()
        if self._dynsec is not None:
            self._dynsec.close()
            self._dynsec = None
        self.broker.stop()
        shutil.rmtree(self._directory, ignore_errors=True)
