"""The local stack's API documentation pages (``fleetgate_local.apidocs``): the committed document with
the stack's URL, Swagger UI's assets from ``swagger-ui-bundle``, and the OpenAPI 3.0 view Swagger UI 4
reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from fleetgate_local.apidocs import ApiDocs, openapi_3_0_view, swagger_ui_directory

ROOT = Path(__file__).resolve().parents[3]
URL = "http://127.0.0.1:3999"


@pytest.fixture
def pages() -> ApiDocs:
    return ApiDocs(ROOT, lambda: URL)


def test_openapi_json_is_the_committed_document_with_the_stacks_url_as_server(pages: ApiDocs) -> None:
    # When /openapi.json is asked for
    response = pages("GET", "/openapi.json")

    # Then it is the committed document, with the stack's URL as its only server
    assert response is not None and response.status == 200
    served = json.loads(response.body)
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert served["servers"] == [{"url": URL}]
    assert {k: v for k, v in served.items() if k != "servers"} == committed


def test_docs_is_swagger_ui_pointed_at_the_3_0_view(pages: ApiDocs) -> None:
    response = pages("GET", "/docs")
    assert response is not None and response.status == 200
    assert ("content-type", "text/html; charset=utf-8") in response.headers
    assert b'url: "/docs/openapi-3.0.json"' in response.body
    assert b"/docs/swagger-ui-bundle.js" in response.body


def test_swagger_ui_assets_come_from_the_bundle_and_nothing_else_does(pages: ApiDocs) -> None:
    # Given the bundle's directory
    assets = swagger_ui_directory()
    assert assets is not None

    # When an asset, a missing file and paths outside the bundle are asked for
    script = pages("GET", "/docs/swagger-ui-bundle.js")
    missing = pages("GET", "/docs/nothing.js")
    outside = [pages("GET", path) for path in ("/docs/../template.yaml", "/docs/%2e%2e/x", "/docs/index.j2")]

    # Then only the asset is served, byte for byte
    assert script is not None and script.status == 200
    assert script.body == (assets / "swagger-ui-bundle.js").read_bytes()
    assert ("content-type", "application/javascript") in script.headers
    assert missing is not None and missing.status == 404
    assert [r.status if r else None for r in outside] == [404, 404, 404]


def test_other_requests_are_left_to_the_gateway(pages: ApiDocs) -> None:
    assert pages("GET", "/manage/v1/devices") is None
    assert pages("POST", "/openapi.json") is None
    assert pages("GET", "/documents") is None


def test_a_missing_document_says_how_to_make_it(tmp_path: Path) -> None:
    response = ApiDocs(tmp_path, lambda: URL)("GET", "/openapi.json")
    assert response is not None and response.status == 404
    assert b"make openapi" in response.body


def test_without_the_bundle_docs_says_what_to_install(tmp_path: Path) -> None:
    pages = ApiDocs(ROOT, lambda: URL, assets=None)
    pages.assets = None
    response = pages("GET", "/docs")
    assert response is not None and response.status == 404
    assert b"swagger-ui-bundle" in response.body


def test_the_3_0_view_is_valid_openapi_3_0(pages: ApiDocs) -> None:
    # Given the 3.0 view Swagger UI reads
    response = pages("GET", "/docs/openapi-3.0.json")
    assert response is not None and response.status == 200
    view = json.loads(response.body)

    # Then it is valid OpenAPI 3.0, with every path of the 3.1 document
    assert view["openapi"] == "3.0.3"
    validate(view)
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert view["paths"].keys() == committed["paths"].keys()


def test_the_3_0_view_writes_null_types_as_nullable() -> None:
    document = {
        "openapi": "3.1.0",
        "a": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]},
        "b": {"type": ["integer", "null"], "minimum": 0},
        "c": {"const": -1, "examples": [1, 2]},
        "d": {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]},
    }
    assert openapi_3_0_view(document) == {
        "openapi": "3.0.3",
        "a": {"type": "string", "maxLength": 3, "nullable": True},
        "b": {"type": "integer", "minimum": 0, "nullable": True},
        "c": {"enum": [-1], "example": 1},
        "d": {"anyOf": [{"$ref": "#/x"}], "nullable": True},
    }
