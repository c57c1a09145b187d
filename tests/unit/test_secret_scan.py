"""The secret scan of the suite's logs (``tests/secret_scan.py``): what it collects, and that it finds a
secret planted in a log."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.secret_scan import SCAN, SecretScan

TOKEN = "A1b2C3d4E5f6G7h8I9j0"  # the shape of a ThingsBoard access token
API_KEY_ID, API_KEY_SECRET = "key-7f3a9c", "s3cr3t-0f-a-d3pl0yment-k3y"


def test_a_secret_planted_in_a_log_file_is_found_with_its_line(tmp_path: Path) -> None:
    # Given a token the suite made, and a log file whose second line holds it
    scan = SecretScan()
    scan.collect_body(json.dumps({"data": {"credentials": {"accessToken": TOKEN}}}))
    log = tmp_path / "local-stack.log"
    log.write_text(
        "2026-01-01T00:00:00.000Z POST /api/v1/{token}/telemetry 200 3ms TbPostTelemetryFunction\n"
        f'[TbPostTelemetryFunction] {{"level":"INFO","message":"got /api/v1/{TOKEN}/telemetry"}}\n'
    )
    scan.add_log_file(log)

    # When the logs are scanned
    findings = scan.findings()

    # Then the second line is reported, without printing the secret whole
    assert [(finding.source, finding.line_number, finding.secret) for finding in findings] == [
        (str(log), 2, TOKEN)
    ]
    assert TOKEN not in str(findings[0])
    assert scan.lines_scanned == 2


def test_a_secret_planted_in_captured_output_is_found() -> None:
    scan = SecretScan()
    scan.collect_body(json.dumps({"name": "admin", "password": "Operator-Password-1"}))
    scan.add_output("tests/integration/test_x.py::test_y (call)", '{"message":"auth Operator-Password-1"}')
    scan.add_output("tests/integration/test_x.py::test_z (call)", '{"message":"signed in"}')

    findings = scan.findings()

    assert [(finding.source, finding.line_number) for finding in findings] == [
        ("tests/integration/test_x.py::test_y (call)", 1)
    ]


def test_logs_without_the_secrets_give_no_finding(tmp_path: Path) -> None:
    scan = SecretScan()
    scan.collect_body(json.dumps({"data": {"secret": API_KEY_SECRET}}))
    log = tmp_path / "clean.log"
    log.write_text("GET /api/v1/thing-datas/{thingName}/shadow 200 4ms TdGetShadowFunction\n" * 3)
    scan.add_log_file(log)
    scan.add_log_file(tmp_path / "never-written.log")

    assert scan.findings() == []
    assert scan.lines_scanned == 3


def test_secrets_are_taken_from_every_depth_of_a_json_body_under_secret_names() -> None:
    # Given answers of the operator API and ThingsBoard's provisioning, and a request with a claim secret
    scan = SecretScan()
    scan.collect_body(json.dumps({"data": {"id": "d1", "credentials": {"accessToken": TOKEN}}}))
    scan.collect_body(
        b'{"status":"SUCCESS","credentialsType":"MQTT_BASIC",'
        b'"credentialsValue":{"clientId":"c1","userName":"thermostat","password":"mqtt-password-1"}}'
    )
    scan.collect_body(
        '[{"provisionDeviceKey":"thermostats-key","provisionDeviceSecret":"thermostats-secret"}]'
    )
    scan.collect_body('{"secretKey": "label-42", "durationMs": 60000}')
    scan.collect_body('{"data": {"Token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2ln"}}')

    # Then each secret is collected, whatever its depth and its key's case
    assert scan.secrets == {
        TOKEN,
        "mqtt-password-1",
        "thermostats-key",
        "thermostats-secret",
        "label-42",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2ln",
    }


def test_ordinary_fields_short_values_and_bodies_that_are_not_json_hold_no_secret() -> None:
    scan = SecretScan()
    scan.collect_body(json.dumps({"nextToken": "eyJwayI6IkRFVklDRSMxIn0", "clientToken": "tok-001-abcdef"}))
    scan.collect_body(json.dumps({"name": "thermostat-0000001", "secret": "short", "token": 12345678}))
    scan.collect_body("token=A1b2C3d4E5f6G7h8I9j0")  # a form body
    scan.collect_body(b"\xff\xfe firmware bytes")
    scan.collect_body('{"secret": "unterminated')
    scan.collect_body('{"secret":"deep-secret-1","data":' + "[" * 50_000 + "]" * 50_000 + "}")  # hostile
    scan.collect_body(None)
    scan.collect_body(json.dumps({"password": "password", "accessKey": "AccessKey"}))  # a secret's own name

    assert scan.secrets == set()


def test_authorization_headers_give_their_credentials() -> None:
    scan = SecretScan()
    basic = base64.b64encode(f"{API_KEY_ID}:{API_KEY_SECRET}".encode()).decode()

    scan.collect_headers({"Authorization": f"Basic {basic}", "Content-Type": "application/json"})
    scan.collect_headers({"authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl"})
    scan.collect_headers({"Authorization": "Basic not*base64*at*all"})
    scan.collect_headers(None)  # what an event without headers carries
    scan.collect_headers([("Authorization", "Bearer in-a-list-not-headers")])

    assert scan.secrets == {
        basic,
        f"{API_KEY_ID}:{API_KEY_SECRET}",
        API_KEY_SECRET,
        "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl",
        "not*base64*at*all",
    }


def test_a_raw_authorization_value_is_taken_from_the_answer_that_issued_it_not_from_the_header() -> None:
    # Given a Xyte registration's answer, then requests with raw Authorization values: the device's key
    # and what a fuzzer sends there (words of the document, a path, zeros)
    scan = SecretScan()
    scan.collect_body('{"id": "75ae3ea7", "access_key": "dZ9kAFs6qO_wUt8Rlw3K"}')
    for raw in ("dZ9kAFs6qO_wUt8Rlw3K", "RequestLimitExceeded", "/manage/v1/api-keys", "00000000"):
        scan.collect_headers({"Authorization": raw})
    scan.collect_body('{"access_token": "00000000", "hardware_key": "aaaaaaaaaaaa"}')  # one char repeated

    # Then the key is a secret (from the answer), and the fuzzer's text is not
    assert scan.secrets == {"dZ9kAFs6qO_wUt8Rlw3K"}


class _AnswersASecret(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"data": {"id": "k1", "secret": "answered-secret-of-the-key"}}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _AnswersASecret)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_suite_collects_the_secrets_of_every_requests_exchange(server: str) -> None:
    # When a test talks HTTP with requests, as the end-to-end tests and ThingsBoard's SDK do
    response = requests.post(
        f"{server}/manage/v1/auth",
        json={"name": "admin", "password": "Sent-Password-1"},
        headers={"Authorization": "Bearer sent-jwt-of-the-operator"},
        timeout=10,
    )

    # Then what it sent and what it was answered are in the suite's secrets (and the answer still reads)
    assert response.json()["data"]["id"] == "k1"
    assert {"Sent-Password-1", "sent-jwt-of-the-operator", "answered-secret-of-the-key"} <= SCAN.secrets
