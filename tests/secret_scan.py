"""Every secret the test suite makes, and a scan of everything the suite logged for them.

Secrets are whatever a request or an answer carries under a secret's name (``accessToken``,
``secret``, ``password``, ``provisionDeviceSecret``, ...), at any depth of a JSON body, plus the
credentials of ``Authorization`` headers (a Bearer JWT; a Basic pair and its secret). The suite feeds
this module every HTTP exchange of ``requests`` and every in-process handler invocation
(``tests/conftest.py``), so nothing depends on which test made a secret; at the end of each test
process the logs it wrote (the local stack's log files, the captured output of every test) are scanned
for every secret collected, and any one found fails the run.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# JSON keys (compared without case) whose string values are secrets.
SECRET_KEYS = frozenset(
    key.lower()
    for key in (
        "accessToken",
        "token",
        "idToken",
        "refreshToken",
        "secret",
        "secretKey",
        "password",
        "credentialsValue",
        "provisionDeviceKey",
        "provisionDeviceSecret",
        "access_key",  # Xyte: a device's access key, a model's hardware key, a child's token
        "hardware_key",
        "access_token",
        # ThingsPro: a gateway's MQTT access key, and the secrets of Moxa's configurations
        "accessKey",
        "connectionString",
        "symmetricKey",
        "caPkFile",
        "identityPk",
    )
)
# Shorter values are not told apart from ordinary text (a secret of the suite is at least this long).
MIN_SECRET_LENGTH = 8


@dataclass(frozen=True)
class Finding:
    source: str  # a log file, or the test whose captured output it is
    line_number: int
    secret: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line_number} holds a secret the suite made: {_masked(self.secret)}"


@dataclass
class SecretScan:
    """The secrets of one test process, the logs to scan for them and the log lines scanned."""

    secrets: set[str] = field(default_factory=set)
    log_files: list[Path] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (source, captured text)
    lines_scanned: int = 0

    def add_log_file(self, path: Path) -> None:
        """Scan ``path`` (a log file the suite writes) at the end."""
        self.log_files.append(path)

    def add_output(self, source: str, text: str) -> None:
        """Scan ``text`` (output captured from ``source``, e.g. a test) at the end."""
        if text:
            self.outputs.append((source, text))

    def findings(self) -> list[Finding]:
        """Every place a log file or captured output holds a secret collected."""
        found = []
        for path in self.log_files:
            if path.exists():
                found += self.scan(str(path), path.read_text(encoding="utf-8", errors="replace"))
        for source, text in self.outputs:
            found += self.scan(source, text)
        return found

    def add(self, value: object) -> None:
        # one character repeated ("00000000": a fuzzer's value under a secret's name) is nobody's secret,
        # nor a secret's own name (Moxa's example broker has "password": "password")
        if (
            isinstance(value, str)
            and len(value) >= MIN_SECRET_LENGTH
            and len(set(value)) > 1
            and value.lower() not in SECRET_KEYS
        ):
            self.secrets.add(value)

    def collect_body(self, body: object) -> None:
        """The secrets of a JSON body (``str``/``bytes``; anything that is not JSON holds none)."""
        if isinstance(body, bytes | bytearray):
            try:
                body = bytes(body).decode("utf-8")
            except UnicodeDecodeError:
                return
        if not isinstance(body, str) or not body.lstrip().startswith(("{", "[")):
            return
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested past what the parser reads
            return
        for value in secret_values(document):
            self.add(value)

    def collect_headers(self, headers: object) -> None:
        """The credentials of an ``Authorization`` header: a Bearer token, or a Basic pair and its secret."""
        if not isinstance(headers, Mapping):
            return
        for name, value in headers.items():
            if name.lower() != "authorization" or not isinstance(value, str):
                continue
            scheme, _, credentials = value.strip().partition(" ")
            credentials = credentials.strip()
            # A value without a scheme (Xyte's raw access key) is not taken: the suite's keys are collected
            # from the answers that issued them (access_key), and what else arrives raw is a fuzzer's text
            # (words of the document, zeros), which logs hold anyway.
            self.add(credentials)
            if scheme.lower() == "basic":
                try:
                    pair = base64.b64decode(credentials, validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    continue
                self.add(pair)
                self.add(pair.partition(":")[2])

    def scan(self, source: str, text: str) -> list[Finding]:
        """Where the log ``text`` of ``source`` holds any secret collected so far (one search per secret
        over the whole text, then the lines of the secrets found)."""
        lines = text.splitlines()
        self.lines_scanned += len(lines)
        found = [secret for secret in self.secrets if secret in text]
        return [
            Finding(source, number, secret)
            for secret in sorted(found)
            for number, line in enumerate(lines, start=1)
            if secret in line
        ]


def secret_values(document: object) -> Iterator[object]:
    """The values under a secret's key anywhere in a decoded JSON document (a ``credentialsValue`` that is
    an object, as MQTT credentials are, yields its own secrets)."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and key.lower() in SECRET_KEYS and not isinstance(value, dict | list):
                    yield value
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)


def _masked(secret: str) -> str:
    return f"{secret[:3]}…{secret[-2:]} ({len(secret)} characters)"


SCAN = SecretScan()  # this test process's (tests/conftest.py feeds it)
