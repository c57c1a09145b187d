"""A Xyte device over real HTTP against the local stack, exactly as Xyte's HTTP-only sample agent works
(``xyte-io/nodejs-agent``): it registers at the entry URL with its model's hardware key, then uses the
``hub_url`` it was given for everything else; its loop sends telemetry and follows the answer's
``config_version``, ``command`` and ``new_licenses``; its dump command posts ``agent.log`` and appends to
it; it fetches the firmware the telemetry answer announces; and it is refused (401) once the operator
deletes it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from fleetgate_local.stack import LocalStack
from tests.e2e.conftest import HTTP_TIMEOUT_S, OperatorSession
from tests.e2e.xyte_agent import Hub, Registered, create_model, manage, register

pytestmark = pytest.mark.e2e


@pytest.fixture
def device(stack: LocalStack, operator: OperatorSession) -> Registered:
    return register(stack.url, create_model(operator, "1.0.7")["hardware_key"])


@pytest.fixture
def hub(device: Registered) -> Iterator[Hub]:
    session = Hub(device)
    yield session
    session.close()


def test_registration_answers_the_local_hub_and_mqtt_urls(stack: LocalStack, device: Registered) -> None:
    # Given the local stack started without parameter overrides
    # Then registration tells the device the URL it registered at, and the stack's own MQTT endpoint
    assert device.hub_url == stack.url
    assert device.answer["hub_url_static_cert"] == stack.url
    assert device.mqtt_hub_url == stack.mqtt_url
    assert device.answer["device_id"] == device.id  # model API 1.0.7


def test_the_sample_agents_loop_follows_config_commands_and_licenses(
    operator: OperatorSession, device: Registered, hub: Hub
) -> None:
    # Given a device that has sent its first telemetry: nothing waits for it
    local_config_version = 0
    first = hub.ok("POST", "/telemetry", {"status": "online", "telemetries": {"fan_speed": 100.1}})
    assert (first["config_version"], first["command"], first["new_licenses"]) == (0, False, False)

    # When the operator sets a config, sends a command and adds a license
    base = f"xyte/devices/{device.id}"
    manage(operator, "PUT", f"{base}/config", {"config": {"input": "hdmi", "volume": 7}})
    command = manage(operator, "POST", f"{base}/commands", {"name": "reboot"}, status=201)
    license_ = manage(
        operator,
        "POST",
        f"{base}/licenses",
        {"data": {"seats": 5}, "signature": "RSA signature..."},
        status=201,
    )

    # Then the next telemetry answer says so
    answer = hub.ok("POST", "/telemetry", {"status": "online", "telemetries": {"fan_speed": 99}})
    assert (answer["config_version"], answer["command"], answer["new_licenses"]) == (1, True, True)

    # and the agent's loop: a higher config_version -> GET config, apply, POST it back
    assert answer["config_version"] > local_config_version
    config = hub.ok("GET", "/config")
    assert (config["version"], config["config"], config["device_id"]) == (
        1,
        {"input": "hdmi", "volume": 7},
        device.id,
    )
    local_config_version = config["version"]
    assert hub.ok("POST", "/config", config) == {"version": 1, "device_id": device.id}
    # command: true -> GET command, POST in_progress, run it, POST done
    got = hub.ok("GET", "/command")
    assert (got["id"], got["status"], got["name"]) == (command["id"], "pending", "reboot")
    assert hub.ok("POST", "/command", {"id": got["id"], "status": "in_progress"})["status"] == "in_progress"
    assert (
        hub.ok("POST", "/command", {"id": got["id"], "status": "done", "message": "rebooted"})["status"]
        == "done"
    )
    # new_licenses: true -> GET licenses, POST inuse for each
    licenses = hub.ok("GET", "/licenses")
    assert [(item["id"], item["data"], item["add"]) for item in licenses] == [
        (license_["id"], {"seats": 5}, True)
    ]
    for item in licenses:
        assert hub.ok("POST", "/licenses", {"id": item["id"], "state": "inuse"})["state"] == "inuse"

    # Then the operator sees each one done, and the next telemetry has nothing left to do
    assert manage(operator, "GET", f"{base}/config")["appliedVersion"] == 1
    done = manage(operator, "GET", f"{base}/commands/{command['id']}")
    assert (done["status"], done["message"]) == ("done", "rebooted")
    assert manage(operator, "GET", f"{base}/licenses/{license_['id']}")["state"] == "inuse"
    after = hub.ok("POST", "/telemetry", {})
    assert (after["config_version"], after["command"], after["new_licenses"]) == (
        local_config_version,
        False,
        False,
    )
    assert hub.ok("GET", "/command") == {}
    assert hub.ok("GET", "/licenses") == []
    latest = manage(operator, "GET", f"devices/{device.id}/telemetry/latest?keys=fan_speed")
    assert latest["fan_speed"]["value"] == 99


def test_the_dump_command_posts_agent_log_and_appends_to_it(
    operator: OperatorSession, device: Registered, hub: Hub
) -> None:
    # When the device sends its log as the agent does (the MIME type's slash URL-encoded), then appends
    headers = {"Content-Type": "text/plain"}
    sent = hub.ok("POST", "/dumps/text%2Ftxt/agent.log", data=b"boot ok\n", headers=headers, status=201)
    appended = hub.ok("PUT", f"/dumps/{sent['id']}", data=b"rebooted\n", headers=headers)

    # Then the operator reads one dump of both parts
    assert (sent["length"], appended) == (8, {"id": sent["id"], "length": 17})
    dump = manage(operator, "GET", f"xyte/devices/{device.id}/dumps/{sent['id']}")
    assert (dump["mime_type"], dump["filename"], dump["length"]) == ("text/txt", "agent.log", 17)
    parts = [requests.get(part["url"], timeout=HTTP_TIMEOUT_S).content for part in dump["download"]]
    assert b"".join(parts) == b"boot ok\nrebooted\n"


def test_the_firmware_the_telemetry_answer_announces_is_fetched_with_get_file(
    stack: LocalStack, operator: OperatorSession
) -> None:
    # Given a model whose latest firmware (2.0.0) is newer than its device's (1.0.1)
    model = create_model(operator, "1.0.7")
    device = register(stack.url, model["hardware_key"], firmware_version="1.0.1")
    files = f"xyte/models/{model['id']}/files"
    made = manage(
        operator, "POST", files, {"name": "fw", "file_type": "firmware", "version": "2.0.0"}, status=201
    )
    assert requests.put(made["upload_url"], data=b"firmware 2.0.0", timeout=HTTP_TIMEOUT_S).status_code == 200
    manage(operator, "POST", f"{files}/{made['id']}/latest")
    hub = Hub(device)

    # When the device sends telemetry, then fetches the announced file
    answer = hub.ok("POST", "/telemetry", {"status": "online"})
    got = hub.ok("GET", f"/files/{answer['latest_fw_file_id']}")

    # Then it downloads the uploaded bytes
    assert (answer["latest_fw_version"], answer["latest_fw_file_id"]) == ("2.0.0", made["id"])
    assert (got["id"], got["file_type"], got["version"]) == (made["id"], "firmware", "2.0.0")
    assert requests.get(got["url"], timeout=HTTP_TIMEOUT_S).content == b"firmware 2.0.0"
    # and once it runs 2.0.0 (Update Device), nothing newer is announced
    assert hub.ok("PUT", "", {"firmware_version": "2.0.0"})["success"] is True
    current = hub.ok("POST", "/telemetry", {})
    assert (current["latest_fw_version"], current["latest_fw_file_id"]) == (None, None)
    hub.close()


def test_a_device_the_operator_deleted_is_refused_with_401(
    operator: OperatorSession, device: Registered, hub: Hub
) -> None:
    assert hub.ok("POST", "/telemetry", {"status": "online"})["success"] is True

    # When the operator deletes the device
    operator.delete(
        f"{operator.base_url}/manage/v1/devices/{device.id}", timeout=HTTP_TIMEOUT_S
    ).raise_for_status()

    # Then every hub call with its key is a 401 in the dialect's error body (the agent re-registers)
    for method, path, body in [
        ("POST", "/telemetry", {"status": "online"}),
        ("GET", "/config", None),
        ("GET", "/command", None),
    ]:
        refused = hub.call(method, path, body)
        assert refused.status_code == 401, (path, refused.text)
        assert refused.json()["code"] == "Unauthorized"
