"""A Xyte device over real MQTT 5 against the local stack, as Xyte's sample agent talks to it: registered
over HTTPS, connected to the ``mqtt_hub_url`` registration answered (paho-mqtt 2, ``clientId = username
= id``, ``password = access_key``, the user properties ``device_id`` and ``access_key`` on every
publish), subscribed to the server's topics. Every message goes through the local broker, the template's
topic rules and the real rule functions; the operator works through the operator API.

- the agent's flow: telemetry with a reply, config, command, license, Update Device, cloud settings;
- offline: what the operator did while the device was away arrives once after ``…/get``, with its ids,
  and never again as new once answered;
- refusals: a wrong key at CONNECT, another device's topics, bad payloads (state unchanged, each
  refusal logged by the rule function, only error replies published back);
- the time a CONNECT and a rule round trip take (printed; pytest ``-s`` shows them).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetgate_local.stack import LocalStack
from tests.e2e.conftest import OperatorSession
from tests.e2e.xyte_agent import MqttAgent, Received, Registered, create_model, manage, register
from tests.secret_scan import SCAN

pytestmark = pytest.mark.e2e

REPLIES = "replies"  # the device's own reply topic (no rule listens on it)
WAIT_S = 10.0


@pytest.fixture(scope="module")
def model(operator_token: str, stack: LocalStack) -> dict[str, Any]:
    with OperatorSession(stack.url, operator_token) as session:
        return create_model(session, "1.0.7")


@pytest.fixture
def agents() -> Iterator[list[MqttAgent]]:
    made: list[MqttAgent] = []
    yield made
    for agent in made:
        agent.close()


@pytest.fixture
def online(
    stack: LocalStack, model: dict[str, Any], agents: list[MqttAgent]
) -> Callable[[], tuple[Registered, MqttAgent]]:
    """A newly registered device, connected to the URL registration gave it and subscribed as the agent."""

    def make() -> tuple[Registered, MqttAgent]:
        device = register(stack.url, model["hardware_key"])
        assert device.mqtt_hub_url == stack.mqtt_url
        agent = connected(device, agents)
        return device, agent

    return make


def connected(device: Registered, agents: list[MqttAgent]) -> MqttAgent:
    assert device.mqtt_hub_url is not None
    agent = MqttAgent(device.mqtt_hub_url, device.id, device.access_key)
    agents.append(agent)
    assert agent.connect() == 0
    agent.subscribe_server_topics()
    assert agent.subscribe(REPLIES) == [1]
    return agent


def ask(agent: MqttAgent, topic: str, payload: Any, correlation: bytes | None = None) -> Received:
    """Publish with the reply topic and the correlation data (the server's, or a fresh token); the reply
    that comes back for it (the next one with that correlation data)."""
    token = correlation or f"{topic}-{time.monotonic_ns()}".encode()
    seen = len(agent.on(REPLIES, lambda m: m.correlation_data == token))
    agent.publish(topic, payload, response_topic=REPLIES, correlation_data=token)
    return agent.wait(REPLIES, lambda m: m.correlation_data == token, count=seen + 1)[-1]


def until(condition: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """Poll the operator API (an HTTP read has no event to wait on) until ``condition`` holds."""
    deadline = time.monotonic() + timeout
    while (value := condition()) in (None, False) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert value not in (None, False), "not within the timeout"
    return value


# --------------------------------------------------------------------------- the agent's flow
def test_the_sample_agents_mqtt_flow(
    operator: OperatorSession, online: Callable[[], tuple[Registered, MqttAgent]]
) -> None:
    device, agent = online()
    base = f"xyte/devices/{device.id}"

    # Telemetry with a response topic: the telemetry answer arrives there, with the correlation data
    reply = ask(agent, "telemetry", {"status": "online", "telemetries": {"fan_speed": 100.1}})
    answer = reply.json()
    assert (answer["success"], answer["config_version"], answer["command"], answer["device_id"]) == (
        True,
        0,
        False,
        device.id,
    )
    latest = manage(operator, "GET", f"devices/{device.id}/telemetry/latest?keys=fan_speed")
    assert latest["fan_speed"]["value"] == 100.1

    # The operator sets a config: the device gets it with its response topic and the version as
    # correlation data, applies it and publishes it back there; the operator sees it applied
    manage(operator, "PUT", f"{base}/config", {"config": {"input": "hdmi"}})
    [config] = agent.wait("config")
    assert (config.response_topic, config.correlation_data) == (f"{agent.root}/config/update", b"1")
    assert config.json()["config"] == {"input": "hdmi"} and config.json()["version"] == 1
    agent.publish(config.response_topic, config.json(), correlation_data=config.correlation_data)
    assert until(lambda: manage(operator, "GET", f"{base}/config")["appliedVersion"] == 1)

    # The operator sends a command: the device answers in_progress, then done, correlated by its id
    command = manage(operator, "POST", f"{base}/commands", {"name": "reboot"}, status=201)
    [pushed] = agent.wait("commands")
    assert pushed.json()["id"] == command["id"] and pushed.json()["status"] == "pending"
    assert (pushed.response_topic, pushed.correlation_data) == (
        f"{agent.root}/commands/update",
        command["id"].encode(),
    )
    assert pushed.message_expiry is not None and 0 < pushed.message_expiry <= 86_400
    for status in ("in_progress", "done"):
        body = {"status": status, "message": status}
        reply = ask(agent, pushed.response_topic or "", body, pushed.correlation_data).json()
        assert (reply["id"], reply["status"]) == (command["id"], status)
    recorded = manage(operator, "GET", f"{base}/commands/{command['id']}")
    assert (recorded["status"], recorded["message"]) == ("done", "done")

    # The operator adds a license: the device answers inuse on the license's response topic
    added = manage(
        operator,
        "POST",
        f"{base}/licenses",
        {"data": {"seats": 5}, "signature": "RSA signature..."},
        status=201,
    )
    [license_] = agent.wait("license")
    assert (license_.json()["id"], license_.json()["add"], license_.correlation_data) == (
        added["id"],
        True,
        added["id"].encode(),
    )
    reply = ask(agent, license_.response_topic or "", {"state": "inuse"}, license_.correlation_data)
    assert reply.json()["state"] == "inuse"
    assert manage(operator, "GET", f"{base}/licenses/{added['id']}")["state"] == "inuse"

    # Update Device and cloud settings over MQTT, answered on the reply topic
    updated = ask(agent, "update", {"firmware_version": "1.0.2", "name": "lobby display"}).json()
    assert updated["success"] is True
    info = manage(operator, "GET", base)
    assert (info["name"], info["state"]["firmware_version"]) == ("lobby display", "1.0.2")
    settings = ask(
        agent, "cloud_settings/update", {"property": "incidents.suspend_creation", "value": True}
    ).json()
    assert settings["settings"] == {"incidents.suspend_creation": True}
    assert manage(operator, "GET", f"{base}/cloud-settings")["incidents.suspend_creation"] is True

    # and commands went to the agent's topic only (one copy each, never also on …/command)
    assert agent.on("command") == [] and len(agent.on("commands")) == 1


# --------------------------------------------------------------------------- offline, then get
def test_what_waited_while_offline_arrives_once_after_get_and_never_again_as_new(
    operator: OperatorSession, online: Callable[[], tuple[Registered, MqttAgent]], agents: list[MqttAgent]
) -> None:
    # Given a device that went offline
    device, agent = online()
    agent.close()
    agents.remove(agent)
    base = f"xyte/devices/{device.id}"

    # When the operator makes a config, a command and a license meanwhile
    manage(operator, "PUT", f"{base}/config", {"config": {"input": "dp"}})
    command = manage(operator, "POST", f"{base}/commands", {"name": "dump"}, status=201)
    added = manage(operator, "POST", f"{base}/licenses", {"data": "key-1", "signature": "sig"}, status=201)

    # and the device reconnects (a clean session: the broker kept nothing) and publishes …/get
    back = connected(device, agents)
    summary = ask(back, "get", b"").json()

    # Then it got each exactly once, with the ids the operator's answers carry; the get reply is
    # published after them, so all have arrived
    [config] = back.on("config")
    [pushed] = back.on("commands")
    [license_] = back.on("license")
    assert len(back.on("space_info")) == 1
    assert (config.json()["version"], config.correlation_data) == (1, b"1")
    assert (pushed.json()["id"], pushed.correlation_data) == (command["id"], command["id"].encode())
    assert (license_.json()["id"], license_.correlation_data) == (added["id"], added["id"].encode())
    assert summary["space_info"] and summary["config"] and summary["command"] and summary["licenses"]

    # When it answers all three (on the response topics, with the correlation data, they came with)
    assert (
        ask(back, config.response_topic or "", config.json(), config.correlation_data).json()["version"] == 1
    )
    assert (
        ask(back, pushed.response_topic or "", {"status": "done"}, pushed.correlation_data).json()["status"]
        == "done"
    )
    assert (
        ask(back, license_.response_topic or "", {"state": "inuse"}, license_.correlation_data).json()[
            "state"
        ]
        == "inuse"
    )
    assert manage(operator, "GET", f"{base}/config")["appliedVersion"] == 1
    assert manage(operator, "GET", f"{base}/commands/{command['id']}")["status"] == "done"
    assert manage(operator, "GET", f"{base}/licenses/{added['id']}")["state"] == "inuse"

    # Then another get sends none of them again: only the space info
    again = ask(back, "get", b"").json()
    assert (len(back.on("config")), len(back.on("commands")), len(back.on("license"))) == (1, 1, 1)
    assert len(back.on("space_info")) == 2
    assert not again["config"] and not again["command"] and not again["licenses"]


# --------------------------------------------------------------------------- refusals
def refusals_logged(device_id: str) -> int:
    """Lines of the session stack's log where a rule function refused a message on the device's topics."""
    count = 0
    for path in SCAN.log_files:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if '"Message refused"' in line and f"v1/device/{device_id}/" in line:
                count += 1
    return count


def test_a_wrong_access_key_is_refused_at_connect(
    stack: LocalStack, model: dict[str, Any], agents: list[MqttAgent]
) -> None:
    device = register(stack.url, model["hardware_key"])
    agent = MqttAgent(stack.mqtt_url, device.id, device.access_key + "x")
    agents.append(agent)

    assert agent.connect() == 134  # 0x86 bad user name or password


def test_another_devices_topics_are_refused_and_its_state_unchanged(
    operator: OperatorSession, online: Callable[[], tuple[Registered, MqttAgent]]
) -> None:
    # Given Bob with a telemetry value and a pending command, and Mallory, another device
    (alice, mallory), (bob, bobs) = online(), online()
    ask(bobs, "telemetry", {"telemetries": {"temperature": 21}})
    command = manage(operator, "POST", f"xyte/devices/{bob.id}/commands", {"name": "reboot"}, status=201)
    [pushed] = bobs.wait("commands")

    # Subscribing to Bob's topics is refused (0x87 not authorized)
    assert mallory.subscribe(f"v1/device/{bob.id}/config", f"v1/device/{bob.id}/#") == [0x87, 0x87]
    # Mallory publishes telemetry to Bob's topic (as herself, then naming Bob in the user properties),
    # answers Bob's command and pushes him a config
    mallory.publish(f"v1/device/{bob.id}/telemetry", {"telemetries": {"temperature": 99}})
    mallory.publish(
        f"v1/device/{bob.id}/telemetry",
        {"telemetries": {"temperature": 98}},
        user_properties=[("device_id", bob.id), ("access_key", alice.access_key)],
    )
    mallory.publish(pushed.response_topic or "", {"status": "done"}, correlation_data=pushed.correlation_data)
    mallory.publish(f"v1/device/{bob.id}/config", {"version": 9, "config": {"forged": True}})
    # and Bob's own report after them, the control (its reply comes through the rules, after them)
    ask(bobs, "telemetry", {"telemetries": {"temperature": 22}})

    # Then Bob's telemetry, command and inbox hold only what Bob and the operator did
    history = manage(operator, "GET", f"devices/{bob.id}/telemetry?keys=temperature")
    assert sorted(point["value"] for point in history["temperature"]) == [21, 22]
    assert manage(operator, "GET", f"xyte/devices/{bob.id}/commands/{command['id']}")["status"] == "pending"
    assert bobs.on("config") == []


def test_bad_payloads_change_nothing_and_are_refused_with_error_replies(
    operator: OperatorSession, online: Callable[[], tuple[Registered, MqttAgent]]
) -> None:
    device, agent = online()
    base = f"xyte/devices/{device.id}"
    ask(agent, "telemetry", {"telemetries": {"fan_speed": 1}})
    command = manage(operator, "POST", f"{base}/commands", {"name": "reboot"}, status=201)
    agent.wait("commands")
    before = (
        manage(operator, "GET", f"devices/{device.id}/telemetry?keys=fan_speed"),
        manage(operator, "GET", f"{base}/commands/{command['id']}"),
        manage(operator, "GET", base),
    )
    logged_before = refusals_logged(device.id)

    # When the device sends what no Xyte endpoint takes, each with a reply topic
    bad: list[tuple[str, Any, str]] = [
        ("telemetry", b"{not json", "InvalidRequest"),
        ("telemetry", {"telemetries": ["fan_speed", 2]}, "InvalidRequest"),
        ("telemetry", {"status": "melting"}, "InvalidRequest"),
        ("telemetry", {"telemetries": {"blob": "x" * (130 * 1024)}}, "PayloadTooLarge"),
        ("update", {"name": 7}, "InvalidRequest"),
        (
            "cloud_settings/update",
            {"property": "incidents.suspend_creation", "value": "yes"},
            "InvalidRequest",
        ),
    ]
    replies = [ask(agent, topic, payload).json() for topic, payload, _ in bad]
    # and a command answer without correlation data (nor an id): the command is not named
    agent.publish("commands/update", {"status": "done"}, response_topic=REPLIES)
    [unnamed] = agent.wait(REPLIES, lambda m: m.correlation_data is None)

    # Then each is answered with the dialect's error body on the reply topic, and nothing else came back
    assert [r["code"] for r in replies] == [code for _, _, code in bad]
    assert all(set(r) == {"error", "code"} for r in replies)
    assert unnamed.json()["code"] == "InvalidRequest"
    assert {m.topic for m in agent.received} <= {f"{agent.root}/{t}" for t in (REPLIES, "commands")}
    # and the state is unchanged
    after = (
        manage(operator, "GET", f"devices/{device.id}/telemetry?keys=fan_speed"),
        manage(operator, "GET", f"{base}/commands/{command['id']}"),
        manage(operator, "GET", base),
    )
    assert after[0] == before[0]
    assert after[1]["status"] == before[1]["status"] == "pending"
    assert (after[2]["name"], after[2]["info_version"]) == (before[2]["name"], before[2]["info_version"])
    # and every refusal was logged (and counted, MessagesRejected) by its rule function
    assert refusals_logged(device.id) - logged_before == len(bad) + 1


# --------------------------------------------------------------------------- measured
def test_connect_and_rule_round_trip_times(
    stack: LocalStack,
    model: dict[str, Any],
    agents: list[MqttAgent],
    online: Callable[[], tuple[Registered, MqttAgent]],
) -> None:
    device, agent = online()
    ask(agent, "telemetry", {})  # the rule function's worker warm
    agent.close()  # (a new connection of its username would drop it, and paho would reconnect it)

    connects, round_trips = [], []
    for _ in range(5):
        again = MqttAgent(stack.mqtt_url, device.id, device.access_key, client_id=device.id)
        assert again.connect() == 0
        assert again.connect_s is not None
        connects.append(again.connect_s)
        again.close()
    agent = connected(device, agents)  # the new connections replaced the first (one dynsec client)
    for n in range(7):
        token = f"rt-{n}".encode()
        sent = agent.publish(
            "telemetry", {"telemetries": {"n": n}}, response_topic=REPLIES, correlation_data=token
        )
        [reply] = agent.wait(REPLIES, lambda m, t=token: m.correlation_data == t)
        round_trips.append(reply.at - sent)

    connect_ms = statistics.median(connects) * 1000
    round_trip_ms = statistics.median(round_trips) * 1000
    spread = f"min {min(round_trips) * 1000:.0f}, max {max(round_trips) * 1000:.0f}"
    print(
        f"\nXyte MQTT: CONNECT median {connect_ms:.0f} ms (of 5), telemetry -> rule -> function -> reply "
        f"median {round_trip_ms:.0f} ms (of 7, {spread})"
    )
    assert connect_ms < 2000 and round_trip_ms < 2000
