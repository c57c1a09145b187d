"""The simulated gateway's MQTT client: ThingsPro Edge's generic MQTT client with its remote API enabled.

``run`` connects as the ``MQTTConfiguration`` (the body of the gateway's ``POST /api/v1/mqtt``) says:
MQTT 3.1.1 (or 3.1 by ``protocolVersion``; ThingsPro's client speaks nothing newer), ``clientID``,
``userName``/``password``, ``keepAliveSec``, ``clearSession``, TLS when ``certificateOverTLS``. It
subscribes to ``remoteAPI.requestSubTopic`` at ``remoteAPI.qos``, answers each request (``Gateway.handle``)
on ``remoteAPI.responsePubTopic`` at that QoS and ``remoteAPI.retain``, and every ``publish_every``
seconds publishes the message groups (``tags``) at the client's ``qos`` and ``retain``.

Invariants:
- A dropped connection is retried with exponential backoff from 1 s up to ``retryInterval`` (paho's
  reconnect), and the subscription is made again on every connection (a clean session keeps none).
- The gateway is used under one lock: requests (paho's network thread) and publications (``run``'s
  thread) never interleave inside it.
- One log line per request, ``<request-id> <METHOD> <path> -> <state>``; nothing logged carries the
  password or a request's body.
- The client's ``status`` in the gateway's state follows the connection (``connected``/``disconnect``).
- The connection is the one ``config`` describes for the whole run: changing the client over the remote
  API (``PUT /mqtt/1``) changes the state, not the running connection.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from .gateway import Gateway

TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}
MIN_RECONNECT_S = 1
IDLE_WAIT_S = 0.2


def utc_now() -> datetime:
    return datetime.now(UTC)


def remote_api(config: Mapping[str, Any]) -> dict[str, Any]:
    """The remote-API settings with ThingsPro's defaults (QoS 1, no retain)."""
    settings = dict(config.get("remoteAPI") or {})
    if not settings.get("requestSubTopic") or not settings.get("responsePubTopic"):
        raise ValueError("remoteAPI.requestSubTopic and remoteAPI.responsePubTopic are required")
    settings.setdefault("qos", 1)
    settings.setdefault("retain", False)
    return settings


def tls_context(config: Mapping[str, Any]) -> ssl.SSLContext:
    """TLS as the configuration asks: its root CA (else the system's), client certificate, version."""
    certificate = config.get("certificate") or {}
    context = ssl.create_default_context(cafile=certificate.get("rootCaCertFile") or None)
    context.minimum_version = TLS_VERSIONS.get(str(config.get("tlsVersion", "1.2")), ssl.TLSVersion.TLSv1_2)
    if certificate.get("caCertFile"):
        context.load_cert_chain(certificate["caCertFile"], certificate.get("caPkFile") or None)
    if config.get("insecureSkipVerify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def describe(message: bytes) -> tuple[str, str]:
    """``(METHOD, path)`` of a request for the log, ``-`` where it has none."""
    try:
        request = json.loads(message)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "-", "-"
    if not isinstance(request, dict):
        return "-", "-"
    method, path = request.get("method"), request.get("path")
    return (method.upper() if isinstance(method, str) else "-"), (path if isinstance(path, str) else "-")


def mqtt_client(config: Mapping[str, Any]) -> paho.Client:
    """A paho client set up as ``config`` says (not connected)."""
    protocol = paho.MQTTv31 if str(config.get("protocolVersion", "3.1.1")) == "3.1" else paho.MQTTv311
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=str(config.get("clientID") or ""),
        clean_session=bool(config.get("clearSession", True)),
        protocol=protocol,
    )
    if config.get("userName"):
        client.username_pw_set(str(config["userName"]), str(config.get("password") or "") or None)
    if config.get("certificateOverTLS"):
        client.tls_set_context(tls_context(config))
    client.reconnect_delay_set(MIN_RECONNECT_S, max(MIN_RECONNECT_S, int(config.get("retryInterval", 60))))
    return client


def run(
    config: Mapping[str, Any],
    stop: threading.Event,
    *,
    gateway: Gateway | None = None,
    publish_every: float = 0,
    log: Callable[[str], None] = print,
    clock: Callable[[], datetime] = utc_now,
) -> Gateway:
    """Be the gateway on ``config``'s broker until ``stop`` is set; the gateway (its state) is returned.

    Without ``gateway`` a fresh one is made; one without MQTT clients gets ``config`` as client 1
    (enabled unless ``config`` says otherwise: it is the client running).
    """
    settings = remote_api(config)
    gateway = gateway if gateway is not None else Gateway()
    if not gateway.state["mqtt"]["clients"]:
        gateway.add_mqtt_client({"enable": True, **config})
    client_state = gateway.state["mqtt"]["clients"][0]
    lock = threading.Lock()

    client = mqtt_client(config)

    def on_connect(client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log(f"connection refused: {reason}")
            return
        with lock:
            client_state["status"] = "connected"
        client.subscribe(settings["requestSubTopic"], qos=int(settings["qos"]))
        log(f"connected to {config['server']}:{config['port']}; requests on {settings['requestSubTopic']}")

    def on_disconnect(client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with lock:
            client_state["status"] = "disconnect"
        if not stop.is_set():
            log(f"disconnected ({reason}); reconnecting")

    def on_message(client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with lock:
            answer = gateway.handle(message.payload, clock())
        if answer is None:
            return
        method, path = describe(message.payload)
        log(f"{answer['request-id']} {method} {path} -> {answer['state']}")
        client.publish(
            settings["responsePubTopic"],
            json.dumps(answer),
            qos=int(settings["qos"]),
            retain=bool(settings["retain"]),
        )

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    client.connect_async(
        str(config["server"]), int(config["port"]), keepalive=int(config.get("keepAliveSec", 60))
    )
    client.loop_start()
    try:
        next_publication = clock().timestamp() + publish_every
        while not stop.wait(min(IDLE_WAIT_S, publish_every) if publish_every > 0 else IDLE_WAIT_S):
            if publish_every <= 0 or clock().timestamp() < next_publication:
                continue
            next_publication += publish_every
            with lock:
                publications = gateway.publications(clock())
            for topic, payload in publications:
                client.publish(
                    topic, payload, qos=int(config.get("qos", 1)), retain=bool(config.get("retain"))
                )
    finally:
        client.disconnect()
        client.loop_stop()
        with lock:
            client_state["status"] = "disconnect"
    return gateway
