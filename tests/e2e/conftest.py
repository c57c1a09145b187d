"""End-to-end fixtures: one local stack (moto + the template's resources + the gateway running the real
handlers) for the whole session, on free loopback ports, and an operator logged in through it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fleetgate_local.stack import LocalStack
from tests.secret_scan import SCAN

REPOSITORY = Path(__file__).resolve().parents[2]
HTTP_TIMEOUT_S = 30


class OperatorSession(requests.Session):
    """A ``requests.Session`` that sends the operator's JWT; ``base_url`` is the stack's URL."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers["Authorization"] = f"Bearer {token}"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The project's template running locally; stopped (workers, gateway, moto) after the session. Its
    log (the gateway's request lines, the functions' output) is printed and kept in a file of this test
    process, which the secret scan reads."""
    path = tmp_path_factory.mktemp("local-stack") / "local-stack.log"
    SCAN.add_log_file(path)
    lock = threading.Lock()
    with path.open("a", encoding="utf-8") as log_file:

        def log(line: str) -> None:
            with lock:
                log_file.write(line + "\n")
                log_file.flush()
                print(line, flush=True)

        with LocalStack(REPOSITORY, log=log) as running:
            yield running


@pytest.fixture(scope="session")
def operator_token(stack: LocalStack) -> str:
    """A JWT for the seeded operator, from ``POST /manage/v1/auth``."""
    response = requests.post(
        f"{stack.url}/manage/v1/auth",
        json={"name": stack.admin_name, "password": stack.admin_password},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["data"]["token"]
    return token


@pytest.fixture
def operator(stack: LocalStack, operator_token: str) -> Iterator[OperatorSession]:
    """A session authorized as the operator: ``operator.get(f"{operator.base_url}/manage/v1/devices")``."""
    with OperatorSession(stack.url, operator_token) as session:
        yield session
