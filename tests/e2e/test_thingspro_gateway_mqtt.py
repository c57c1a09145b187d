"""The simulated ThingsPro Edge gateway over real MQTT: a Mosquitto of its own on loopback, the gateway's
client (``tools.thingspro_gateway.client.run``) in a thread, and the cloud side a paho MQTT 5 client that
publishes remote-API requests and waits for the answers. The broker is dropped and started again on the
same port to see the gateway reconnect, subscribe again and answer; the runnable module is run as a
process and stopped with SIGINT."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tools.thingspro_gateway.client import run

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
WAIT_S = 15.0
EXPIRES = "2099-01-01 00:00:00"


class Broker:
    """A plain Mosquitto (anonymous, no persistence) on a loopback port kept across restarts."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        executable = shutil.which(
            "mosquitto", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"])
        )
        if executable is None:
            pytest.skip("mosquitto is not installed")
        config = self.directory / "mosquitto.conf"
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self._process = subprocess.Popen(
            [executable, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.02)
        raise AssertionError("mosquitto did not start")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            process.wait(timeout=5)


class Cloud:
    """The cloud side: MQTT 5, subscribed to the gateway's response topic; answers land in a queue."""

    def __init__(self, port: int, response_topic: str) -> None:
        self.answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"cloud-{uuid.uuid4().hex[:8]}", protocol=paho.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.subscribe(response_topic)

    def subscribe(self, topic: str) -> None:
        self._subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(WAIT_S)

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        self.messages.put((message.topic, message.payload))
        with contextlib.suppress(ValueError):
            answer = json.loads(message.payload)
            if isinstance(answer, dict) and "request-id" in answer:
                self.answers.put(answer)

    def ask(
        self, topic: str, request_id: str, path: str, method: str = "GET", body: Any = None
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "path": path,
            "method": method,
            "headers": [{"request-expired-time": EXPIRES}, {"request-id": request_id}],
        }
        if body is not None:
            request["requestBody"] = body
        self.client.publish(topic, json.dumps(request), qos=1).wait_for_publish(WAIT_S)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            answer = self.answers.get(timeout=max(0.01, deadline - time.monotonic()))
            if answer["request-id"] == request_id:
                return answer
        raise AssertionError(f"no answer to {request_id}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _config(port: int, prefix: str) -> dict[str, Any]:
    return {
        "server": "127.0.0.1",
        "port": port,
        "certificateOverTLS": False,
        "clientID": f"tpe-{uuid.uuid4().hex[:8]}",
        "userName": "gateway",
        "password": "s3cret-not-to-print",
        "keepAliveSec": 10,
        "retryInterval": 10,
        "remoteAPI": {
            "enable": True,
            "requestSubTopic": f"{prefix}/request",
            "responsePubTopic": f"{prefix}/response",
            "qos": 1,
        },
    }


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_gateway_answers_over_mqtt_and_again_after_the_broker_restarts(broker: Broker):
    # Given the gateway running on the broker, and the cloud listening to its responses
    prefix = f"/devices/{uuid.uuid4().hex[:8]}"
    config = _config(broker.port, prefix)
    lines: list[str] = []
    stop = threading.Event()
    result: list[Any] = []
    thread = threading.Thread(
        target=lambda: result.append(run(config, stop, log=lines.append, publish_every=0.3)), daemon=True
    )
    thread.start()
    _wait_for(lambda: any(line.startswith("connected") for line in lines), "the gateway to connect")
    cloud = Cloud(broker.port, f"{prefix}/response")
    try:
        # When the cloud changes the client's store-and-forward
        answer = cloud.ask(f"{prefix}/request", "17", "/mqtt/1/store-and-forward", "PUT", {"enable": True})

        # Then it is answered on the response topic, and the line is logged
        assert (answer["request-id"], answer["state"]) == ("17", 200)
        assert answer["payload"]["data"]["enable"] is True
        assert "17 PUT /mqtt/1/store-and-forward -> 200" in lines
        assert cloud.ask(f"{prefix}/request", "18", "/mqtt")["payload"]["data"][0]["status"] == "connected"

        # and a message group it creates publishes Moxa's default format
        group = {
            "enable": True,
            "outputTopic": f"{prefix}/data",
            "tags": {"modbus": {"plc": ["counter"]}},
            "sendOutThreshold": {"mode": "byTime", "time": 1},
        }
        cloud.subscribe(f"{prefix}/data")
        assert cloud.ask(f"{prefix}/request", "19", "/mqtt/1/messages", "POST", group)["state"] == 200
        deadline = time.monotonic() + WAIT_S
        while True:
            topic, payload = cloud.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if topic == f"{prefix}/data":
                break
        assert "values" in json.loads(payload)["tags"]["modbus"]["plc"]["counter"]

        # When the broker goes away and comes back on the same port
        connections = sum(line.startswith("connected") for line in lines)
        broker.stop()
        _wait_for(
            lambda: any(line.startswith("disconnected") for line in lines), "the gateway to see the drop"
        )
        broker.start()
        _wait_for(lambda: sum(line.startswith("connected") for line in lines) > connections, "a reconnection")
        cloud.close()
        cloud = Cloud(broker.port, f"{prefix}/response")

        # Then the gateway subscribed again and answers, its state intact
        answer = cloud.ask(f"{prefix}/request", "20", "/mqtt/1/store-and-forward")
        assert (answer["state"], answer["payload"]["data"]["enable"]) == (200, True)
    finally:
        cloud.close()
        stop.set()
        thread.join(WAIT_S)
    assert not thread.is_alive()
    assert result[0].state["mqtt"]["clients"][0]["status"] == "disconnect"
    assert not any("s3cret-not-to-print" in line for line in lines)


def test_the_module_runs_from_a_config_file_and_exits_cleanly_on_ctrl_c(broker: Broker, tmp_path: Path):
    # Given the runnable simulator started on a config file, answering payloads as strings, with a state file
    prefix = f"/devices/{uuid.uuid4().hex[:8]}"
    config = _config(broker.port, prefix)
    config_file, state_file = tmp_path / "mqtt.json", tmp_path / "state.json"
    config_file.write_text(json.dumps(config))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.thingspro_gateway",
            "--config",
            str(config_file),
            "--payload-as-string",
            "--state",
            str(state_file),
        ],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    cloud = Cloud(broker.port, f"{prefix}/response")
    try:
        # When the cloud asks for the SSH server (retrying until the gateway has subscribed)
        answer: dict[str, Any] | None = None
        for attempt in range(30):
            with contextlib.suppress(queue.Empty):
                cloud.client.publish(
                    f"{prefix}/request",
                    json.dumps(
                        {
                            "path": "/system/sshserver",
                            "method": "PUT",
                            "headers": [{"request-expired-time": EXPIRES}, {"request-id": str(attempt)}],
                            "requestBody": {"enable": True, "port": 2222},
                        }
                    ),
                    qos=1,
                )
                answer = cloud.answers.get(timeout=0.5)
                break
        # Then the payload is a JSON-encoded string
        assert answer is not None
        assert json.loads(answer["payload"]) == {"data": {"enable": True, "port": 2222}}
    finally:
        cloud.close()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=WAIT_S)
        reader.join(WAIT_S)
    # and Ctrl-C ends it cleanly, the state saved, the password never printed
    assert code == 0, "".join(output)
    text = "".join(output)
    assert f"{answer['request-id']} PUT /system/sshserver -> 200" in text
    assert "s3cret-not-to-print" not in text
    assert json.loads(state_file.read_text())["system"]["sshserver"] == {"enable": True, "port": 2222}
