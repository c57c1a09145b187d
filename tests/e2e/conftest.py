"""End-to-end fixtures: one local stack (moto + the template's resources + the gateway running the real
handlers) for the whole session, on free loopback ports, and an operator logged in through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fleetgate_local.stack import LocalStack

REPOSITORY = Path(__file__).resolve().parents[2]
HTTP_TIMEOUT_S = 30


class OperatorSession(requests.Session):
    """A ``requests.Session`` that sends the operator's JWT; ``base_url`` is the stack's URL."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers["Authorization"] = f"Bearer {token}"


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The project's template running locally; stopped (workers, gateway, moto) after the session."""
    with LocalStack(REPOSITORY) as running:
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
