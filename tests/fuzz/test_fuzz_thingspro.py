"""Moxa's own document, run against fleetgate: schemathesis is given Moxa's ThingsPro Cloud APIs 2.4.0
(``tests/fixtures/thingspro-cloud-openapi-2.4.0.yaml``, unchanged) with its server pointed at one
gateway's prefix on a local stack, while the simulated gateway (``tools.thingspro_gateway``) is
connected over MQTT and answers what the cloud sends it. Every operation of Moxa's document is
exercised; no answer may be 500 or more, and every answer must conform to Moxa's schema for its status
(and its content type). Other checks judge a server by rules Moxa's document does not state for this
API (undeclared statuses such as fleetgate's 202 for a change still on its way, or 400 for what Moxa's
looser schemas let through), so they are off here; ``test_fuzz.py`` holds fleetgate's own document to
all of them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from fleetgate_local.stack import LocalStack
from tests.figures import record_figure
from tests.fuzz.harness import run_document
from tests.secret_scan import SCAN
from tools.thingspro_gateway.client import run as run_gateway

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
MOXA = REPOSITORY / "tests" / "fixtures" / "thingspro-cloud-openapi-2.4.0.yaml"
SEED = 20261201
TIMEOUT_S = 30
KEPT_CHECKS = {"not_a_server_error", "response_schema_conformance", "content_type_conformance"}
OTHER_CHECKS = (
    "status_code_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "response_headers_conformance",
    "allow_header_conformance",
)


@pytest.fixture(scope="module")
def gateway_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, Path]]:
    """A stack of its own: a change waits up to 10 s for the gateway's answer (the fuzzing stack's 1 s
    cap would turn answers of a busy machine into 202s)."""
    log_path = tmp_path_factory.mktemp("fuzz-thingspro") / "stack.log"
    SCAN.add_log_file(log_path)
    with (
        log_path.open("a", encoding="utf-8") as log,
        LocalStack(
            REPOSITORY,
            parameter_overrides={"LongPollCapSeconds": "10"},
            log=lambda line: print(line, file=log, flush=True),
        ) as stack,
    ):
        yield stack, log_path


@pytest.fixture(scope="module")
def attached(gateway_stack: tuple[LocalStack, Path]) -> Iterator[tuple[str, str]]:
    """A registered gateway with the simulator connected as it, and a ThingsPro token: (base URL, token)."""
    stack, _ = gateway_stack
    login = requests.post(
        f"{stack.url}/manage/v1/auth",
        json={"name": stack.admin_name, "password": stack.admin_password},
        timeout=TIMEOUT_S,
    )
    operator = {"Authorization": f"Bearer {login.json()['data']['token']}"}
    made = requests.post(
        f"{stack.url}/manage/v1/thingspro/gateways", json={}, headers=operator, timeout=TIMEOUT_S
    )
    assert made.status_code == 201, made.text
    gateway = made.json()["data"]
    base = f"{stack.url}/thingspro/gateways/{gateway['id']}/api/v1"
    token = requests.post(
        f"{base}/auth", json={"name": stack.admin_name, "password": stack.admin_password}, timeout=TIMEOUT_S
    ).json()["data"]["token"]
    stop = threading.Event()
    thread = threading.Thread(
        target=run_gateway,
        args=(gateway["mqttConfiguration"], stop),
        kwargs={"log": lambda line: None},
        daemon=True,
    )
    thread.start()

    def connected() -> bool:
        url = f"{stack.url}/manage/v1/thingspro/gateways/{gateway['id']}"
        presence = requests.get(url, headers=operator, timeout=TIMEOUT_S).json()["data"]["presence"]
        return bool(presence and presence["connected"])

    for _ in range(100):
        if connected():
            break
        threading.Event().wait(0.1)
    assert connected(), "the simulated gateway did not connect"
    yield base, token
    stop.set()
    thread.join(10)


def moxa_document(base: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(MOXA.read_text())
    document["servers"] = [{"url": base}]
    return document


@pytest.mark.timeout(1800)  # 10 minutes alone on two cores; CI runs it beside the rest
def test_moxas_document_gets_no_5xx_and_only_answers_of_its_schemas(
    gateway_stack: tuple[LocalStack, Path], attached: tuple[str, str], request: pytest.FixtureRequest
) -> None:
    _, log_path = gateway_stack
    base, token = attached
    document = moxa_document(base)
    config = {
        "seed": SEED,
        "base-url": base,
        "workers": 2,
        "continue-on-failure": True,
        "request-timeout": TIMEOUT_S,
        "generation": {"mode": "all", "max-examples": 3, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "checks": {name: {"enabled": False} for name in OTHER_CHECKS},
        "auth": {"openapi": {"bearerAuth": {"bearer": token}}},
        # the gateway's MQTT client 1 (its connection to the cloud) and its first Sparkplug broker exist
        "parameters": {"path.id": "1"},
    }
    tally = run_document(document, config)
    summary = tally.summary()
    print(f"\nfuzz Moxa ThingsPro: {json.dumps(summary)}")
    record_figure(request.config, "fuzz Moxa ThingsPro", summary)
    operations = sum(
        1
        for item in document["paths"].values()
        for key in item
        if key in ("get", "put", "post", "patch", "delete")
    )
    assert not tally.errors, "\n".join(tally.errors)
    assert not tally.server_errors, f"tracebacks in {log_path}:\n" + "\n".join(tally.server_errors[:20])
    every = log_path.parent / "failures-moxa.txt"
    every.write_text("\n".join(tally.failures), encoding="utf-8")
    assert not tally.failures, f"all {len(tally.failures)} in {every}:\n" + "\n".join(tally.failures[:30])
    assert len(tally.by_operation) == operations == 87, sorted(tally.by_operation)
