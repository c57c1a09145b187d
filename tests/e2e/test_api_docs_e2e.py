"""The local stack serves its API documentation: ``GET /openapi.json`` (OpenAPI 3.1, the stack's URL as
server), ``GET /docs`` (Swagger UI) and its assets, offline; and the answers API Gateway itself gives
in front of the handlers (the JWT authorizer's 401, a body over the limit) are the document's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from fleetgate_local.stack import LocalStack
from tests.openapi_conformance import conformance_problems

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 30


def test_openapi_json_is_the_committed_document_served_from_the_stack(stack: LocalStack) -> None:
    # When /openapi.json is fetched over HTTP
    response = requests.get(f"{stack.url}/openapi.json", timeout=TIMEOUT_S)

    # Then it is the committed OpenAPI 3.1 document, valid, with the stack as its server
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    validate(served)
    assert served["openapi"] == "3.1.0"
    assert served["servers"] == [{"url": stack.url}]
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert served["paths"] == committed["paths"]


def test_docs_serves_swagger_ui_and_its_assets(stack: LocalStack) -> None:
    # When the documentation page and what it loads are fetched
    page = requests.get(f"{stack.url}/docs", timeout=TIMEOUT_S)
    script = requests.get(f"{stack.url}/docs/swagger-ui-bundle.js", timeout=TIMEOUT_S)
    style = requests.get(f"{stack.url}/docs/swagger-ui.css", timeout=TIMEOUT_S)
    view = requests.get(f"{stack.url}/docs/openapi-3.0.json", timeout=TIMEOUT_S)

    # Then the page is Swagger UI, its assets are served from the stack, and its document is the 3.0 view
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "SwaggerUIBundle" in page.text and "/docs/openapi-3.0.json" in page.text
    assert script.status_code == 200 and script.headers["content-type"] == "application/javascript"
    assert len(script.content) > 100_000
    assert style.status_code == 200 and style.headers["content-type"] == "text/css"
    assert view.status_code == 200 and view.json()["openapi"] == "3.0.3"
    assert view.json()["servers"] == [{"url": stack.url}]


def test_an_unknown_docs_asset_is_api_gateways_404(stack: LocalStack) -> None:
    response = requests.get(f"{stack.url}/docs/no-such-file.js", timeout=TIMEOUT_S)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def _as_event(response: requests.Response) -> dict[str, object]:
    return {"statusCode": response.status_code, "headers": dict(response.headers), "body": response.text}


def test_the_authorizers_401_is_the_documented_one(stack: LocalStack) -> None:
    # When an operator route is called without a JWT
    response = requests.get(f"{stack.url}/manage/v1/devices", timeout=TIMEOUT_S)

    # Then API Gateway's {"message": "Unauthorized"} is what the document says for 401
    assert response.status_code == 401
    assert conformance_problems("GET /manage/v1/devices", _as_event(response)) == []


def test_a_thingdatas_call_without_credentials_is_the_documented_401(stack: LocalStack) -> None:
    response = requests.post(f"{stack.url}/api/v1/thing-datas/events", json={}, timeout=TIMEOUT_S)
    assert response.status_code == 401
    assert conformance_problems("POST /api/v1/thing-datas/events", _as_event(response)) == []


def test_a_body_over_api_gateways_limit_is_the_documented_413(stack: LocalStack) -> None:
    # When a body over API Gateway's 10 MB reaches a device route
    response = requests.post(
        f"{stack.url}/api/v1/some-token/telemetry", data=b"x" * (10 * 1024 * 1024 + 1), timeout=TIMEOUT_S
    )

    # Then API Gateway's own 413 is one the document allows there
    assert response.status_code == 413
    assert conformance_problems("POST /api/v1/{token}/telemetry", _as_event(response)) == []
