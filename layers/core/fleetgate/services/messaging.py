"""Replies to MQTT messages: a dialect answers a device's message on the response topic it named (an
MQTT 5 request/response exchange), echoing its correlation data.

Invariant: a reply is one QoS 1 publish and nothing else; it writes no state, so sending it twice (a
retried rule invocation) is harmless.
"""

from __future__ import annotations

from fleetgate.data import iot


def reply(topic: str, payload: bytes, correlation_data: bytes | None) -> None:
    """Publish ``payload`` to ``topic``; ``CallFailed`` when the data plane refuses it."""
    iot.publish(topic, payload, qos=1, correlation_data=correlation_data)
