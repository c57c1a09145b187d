"""A real Mosquitto 2 broker for the local stack, with the dynamic security plugin (dynsec) holding its
clients and ACLs, and an admin connection that changes them while it runs.

- ``Mosquitto.start`` writes a config (``listener <port> 127.0.0.1``, ``persistence false``, dynsec with a
  generated ``dynamic-security.json``) into a directory of its own and starts ``mosquitto -c`` on a free
  loopback port; ``stop`` ends that process by its PID. Nothing is anonymous: every client needs a
  dynsec client, and the defaults deny publishing, receiving and subscribing.
- The generated file holds two clients with random passwords: the admin (the ``$CONTROL`` API only) and
  the iot-data bridge (publishes anywhere, receives nothing). dynsec stores PBKDF2-SHA512 digests, as
  ``mosquitto_ctrl dynsec init`` writes them.
- ``Dynsec.install_device`` gives one device its client (username and password as presented at CONNECT)
  and a role of literal ACLs, replacing what it had.

Mosquitto is found as ``$MOSQUITTO``, else ``mosquitto`` on PATH (``/usr/sbin`` included); its plugin as
``$MOSQUITTO_DYNSEC_PLUGIN``, else where Debian, Homebrew and source builds put it. ``make mosquitto``
installs it.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import glob
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
ADMIN, BRIDGE = "fleetgate-dynsec-admin", "fleetgate-iot-data"
START_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 5.0
_PLUGIN = "mosquitto_dynamic_security.so"
_PLUGIN_PLACES = [
    f"/usr/lib/*/{_PLUGIN}",
    f"/usr/lib/{_PLUGIN}",
    f"/usr/local/lib/{_PLUGIN}",
    f"/usr/local/lib/*/{_PLUGIN}",
    f"/opt/homebrew/lib/{_PLUGIN}",
    f"/opt/homebrew/opt/mosquitto/lib/{_PLUGIN}",
]
INSTALL_HINT = (
    "Mosquitto 2 with its dynamic security plugin is needed for MQTT: `make mosquitto` installs Debian's "
    "package when run as root; otherwise install `mosquitto` (apt, brew, https://mosquitto.org/download/), "
    "or set MOSQUITTO and MOSQUITTO_DYNSEC_PLUGIN to the broker and its plugin"
)


class MosquittoUnavailable(RuntimeError):
    """Mosquitto or its plugin is not installed, or it did not start."""


def find_mosquitto() -> tuple[str, str]:
    """``(broker executable, dynsec plugin)``; ``MosquittoUnavailable`` with what to install."""
    executable = os.environ.get("MOSQUITTO") or shutil.which(
        "mosquitto", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    )
    if not executable or not os.access(executable, os.X_OK):
        raise MosquittoUnavailable(INSTALL_HINT)
    plugin = os.environ.get("MOSQUITTO_DYNSEC_PLUGIN")
    if not plugin:
        prefix = Path(executable).resolve().parents[1]
        places = [*_PLUGIN_PLACES, str(prefix / "lib" / _PLUGIN), str(prefix / "lib" / "*" / _PLUGIN)]
        plugin = next((found for place in places for found in sorted(glob.glob(place))), None)
    if not plugin or not Path(plugin).is_file():
        raise MosquittoUnavailable(INSTALL_HINT)
    return executable, plugin


def dynsec_password(password: str, salt: bytes | None = None, iterations: int = 101) -> dict[str, Any]:
    """A dynsec client's password fields: PBKDF2-SHA512 of the password, base64, with its salt."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": iterations,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Mosquitto:
    """One broker process on loopback; ``port`` is known once ``start`` returns."""

    def __init__(self, directory: Path, log: Callable[[str], None]) -> None:
        self.directory = directory
        self.log = log
        self.port = 0
        self.admin_password = secrets.token_urlsafe(24)
        self.bridge_password = secrets.token_urlsafe(24)
        self.started_in_ms = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._output: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> Mosquitto:
        executable, plugin = find_mosquitto()
        self.directory.mkdir(parents=True, exist_ok=True)
        dynsec_file = self.directory / "dynamic-security.json"
        dynsec_file.write_text(json.dumps(self._dynsec_document(), indent=1))
        dynsec_file.chmod(0o600)
        started = time.monotonic()
        for _ in range(3):  # a free port may be taken by someone else before Mosquitto binds it
            self.port = _free_port()
            config = self.directory / "mosquitto.conf"
            config.write_text(
                "\n".join(
                    [
                        f"listener {self.port} 127.0.0.1",
                        "persistence false",
                        # as root, Mosquitto would become user 'mosquitto', who cannot read these files
                        f"user {getpass.getuser()}",
                        "allow_anonymous false",
                        f"plugin {plugin}",
                        f"plugin_opt_config_file {dynsec_file}",
                        "log_dest stderr",
                        "log_type error",
                        "log_type warning",
                        "max_keepalive 1200",
                        "",
                    ]
                )
            )
            self._process = subprocess.Popen(
                [executable, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            if self._wait_ready(started + START_TIMEOUT_S):
                break
            self.stop()
        else:
            raise MosquittoUnavailable(f"Mosquitto did not start (see its lines above); {INSTALL_HINT}")
        self.started_in_ms = (time.monotonic() - started) * 1000
        assert self._process is not None and self._process.stderr is not None
        self._output = threading.Thread(target=self._forward, args=(self._process.stderr,), daemon=True)
        self._output.start()
        return self

    def _wait_ready(self, deadline: float) -> bool:
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                assert self._process.stderr is not None
                for line in self._process.stderr.read().decode(errors="replace").splitlines():
                    self.log(f"mosquitto: {line}")
                return False
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return True
            time.sleep(0.002)
        return False

    def stop(self) -> None:
        """End the broker by its PID (idempotent)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._output is not None:
            self._output.join(timeout=1)
            self._output = None

    def _forward(self, output: IO[bytes]) -> None:
        with output:
            for line in output:
                text = line.decode(errors="replace").rstrip()
                if "should not be run as root" not in text:  # the local stack runs it as its own user
                    self.log(f"mosquitto: {text}")

    def _dynsec_document(self) -> dict[str, Any]:
        control = CONTROL_TOPIC.rsplit("/", 1)[0] + "/#"
        return {
            "defaultACLAccess": {
                "publishClientSend": False,
                "publishClientReceive": False,
                "subscribe": False,
                "unsubscribe": True,
            },
            "clients": [
                {"username": ADMIN, "roles": [{"rolename": ADMIN}], **dynsec_password(self.admin_password)},
                {
                    "username": BRIDGE,
                    "roles": [{"rolename": BRIDGE}],
                    **dynsec_password(self.bridge_password),
                },
            ],
            "roles": [
                {
                    "rolename": ADMIN,
                    "acls": [
                        {"acltype": kind, "topic": control, "allow": True}
                        for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")
                    ],
                },
                {"rolename": BRIDGE, "acls": [{"acltype": "publishClientSend", "topic": "#", "allow": True}]},
            ],
            "groups": [],
        }


def client(client_id: str, username: str, password: str, port: int) -> paho.Client:
    """A connected MQTT 5 client of the broker with its network loop running."""
    connection = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    connection.username_pw_set(username, password)
    connected = threading.Event()
    result: list[Any] = []

    def on_connect(c: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        result.append(reason)
        connected.set()

    connection.on_connect = on_connect
    connection.connect("127.0.0.1", port, keepalive=60)
    connection.loop_start()
    if not connected.wait(COMMAND_TIMEOUT_S) or result[0].is_failure:
        connection.loop_stop()
        raise MosquittoUnavailable(f"{username} could not connect to Mosquitto: {result[:1]}")
    return connection


class Dynsec:
    """The dynamic security plugin's API (``$CONTROL/dynamic-security/v1``), one command batch at a time."""

    def __init__(self, broker: Mosquitto) -> None:
        self._lock = threading.Lock()
        self._answer = threading.Event()
        self._responses: list[dict[str, Any]] = []
        self._client = client(f"{ADMIN}-{secrets.token_hex(4)}", ADMIN, broker.admin_password, broker.port)
        self._client.on_message = self._on_message
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *args: subscribed.set()
        self._client.subscribe(f"{CONTROL_TOPIC}/response", qos=1)
        if not subscribed.wait(COMMAND_TIMEOUT_S):
            raise MosquittoUnavailable("the dynsec admin could not subscribe to its responses")

    def _on_message(self, c: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            self._responses = json.loads(message.payload).get("responses", [])
        except ValueError:
            self._responses = [{"error": "unreadable response"}]
        self._answer.set()

    def run(self, *commands: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the commands in order; their responses (each may hold an ``error``)."""
        with self._lock:
            self._answer.clear()
            self._client.publish(CONTROL_TOPIC, json.dumps({"commands": list(commands)}), qos=1)
            if not self._answer.wait(COMMAND_TIMEOUT_S):
                raise MosquittoUnavailable("the dynamic security plugin did not answer")
            return self._responses

    def install_device(self, username: str, password: str, role: str, acls: list[dict[str, Any]]) -> None:
        """The device's client and role, replacing any it had (its other connections are dropped, as IoT
        Core drops a client id's older connection)."""
        responses = self.run(
            {"command": "deleteClient", "username": username},
            {"command": "deleteRole", "rolename": role},
            {"command": "createRole", "rolename": role, "acls": acls},
            {
                "command": "createClient",
                "username": username,
                "password": password,
                "roles": [{"rolename": role}],
            },
        )
        failed = [r for r in responses[2:] if r.get("error")]
        if len(responses) != 4 or failed:
            raise MosquittoUnavailable(f"dynsec refused the device's client or role: {failed or responses}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
