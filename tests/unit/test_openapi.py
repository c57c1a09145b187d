"""The OpenAPI document (``fleetgate.contracts``, ``docs/openapi.json``) against the template, the
handlers' code and the OpenAPI 3.1 specification. A stale ``docs/openapi.json``: run ``make openapi``.
Handler answers are checked against it in ``tests/integration/test_openapi_conformance.py``."""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from fleetgate.contracts import manage_requests
from fleetgate.contracts import thingspro as thingspro_contracts
from fleetgate.contracts.openapi import OPERATIONS, component_schemas, document
from fleetgate.contracts.spec import Answer, Operation, model
from fleetgate_local.template import Route, Template
from tools import openapi as openapi_tool

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
JWT_SCHEME = "operatorJwt"
XYTE_REGISTRATION = {"POST /v1/devices", "POST /v1/devices/bulk_create"}
THINGSPRO_LOGIN = "POST /thingspro/gateways/{gateway_id}/api/v1/auth"
THINGSPRO_CLOUD_API = "ANY /thingspro/gateways/{gateway_id}/api/v1/{proxy+}"


def served_by(route_key: str, routes: dict[str, Route]) -> str:
    """The template route an operation reaches: its own, else the ThingsPro Cloud API's greedy route for
    an operation under its prefix (the function then finds Moxa's operation by the path)."""
    if route_key in routes:
        return route_key
    _, path = route_key.split(" ", 1)
    return THINGSPRO_CLOUD_API if path.startswith(thingspro_contracts.ROUTE_PREFIX + "/") else route_key


@pytest.fixture(scope="module")
def routes() -> dict[str, Route]:
    template = Template.load(ROOT / "template.yaml", {})
    return {route.route_key: route for function in template.functions() for route in function.routes}


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return document()


def test_every_route_of_the_template_has_exactly_one_operation_and_nothing_else_has_one(
    routes: dict[str, Route],
) -> None:
    # Given the HttpApi routes of every function of the template, and the operations of the contracts
    operation_keys = [op.route_key for op in OPERATIONS]
    served = [served_by(op.route_key, routes) for op in OPERATIONS]

    # Then each route key has one operation (but the ThingsPro Cloud API's greedy route, which serves
    # every operation of Moxa's document), and each operation is served by a route of the template
    assert sorted(set(operation_keys)) == sorted(operation_keys), "a route has two operations"
    assert set(served) == set(routes)
    greedy = [key for key in served if key not in operation_keys]
    assert set(greedy) == {THINGSPRO_CLOUD_API}
    assert len(greedy) == len(thingspro_contracts.OPERATIONS)


def test_every_operation_is_in_the_document_once_with_a_unique_operation_id(
    generated: dict[str, Any],
) -> None:
    # When the document's paths are read back as route keys
    keys = [f"{method.upper()} {path}" for path, item in generated["paths"].items() for method in item]
    ids = [op["operationId"] for item in generated["paths"].values() for op in item.values()]

    # Then every operation is there, and no two share an operationId
    assert sorted(keys) == sorted(op.route_key for op in OPERATIONS)
    assert len(set(ids)) == len(ids) == len(OPERATIONS)


def test_the_operator_jwt_is_required_exactly_where_the_template_puts_its_authorizer(
    routes: dict[str, Route],
) -> None:
    # Given each operation's security requirement and its route's authorizer in the template
    for op in OPERATIONS:
        needs_jwt = any(JWT_SCHEME in requirement for requirement in op.security)
        authorizer = routes[served_by(op.route_key, routes)].authorizer

        # Then the JWT scheme is required exactly on the routes of the JWT authorizer
        assert needs_jwt == (authorizer == "OperatorJwt"), op.route_key
        # and routes without one have no 401 of the authorizer's, but ThingDatas' Basic key where it applies
        # (and Xyte's hub routes their access key)
        if op.path.startswith("/api/v1/thing-datas/"):
            assert op.security == ({"thingDatasBasic": []},), op.route_key
        elif op.path.startswith("/v1/devices"):  # Xyte: registration carries the hardware key instead
            open_route = op.route_key in XYTE_REGISTRATION
            assert op.security == (() if open_route else ({"xyteAccessKey": []},)), op.route_key
        elif op.path.startswith("/thingspro/"):  # ThingsPro: its token, but at sign-in
            open_route = op.route_key == THINGSPRO_LOGIN
            assert op.security == (() if open_route else ({"thingsproToken": []},)), op.route_key
        elif authorizer is None:
            assert op.security == (), op.route_key


def test_login_is_the_only_open_operator_route(routes: dict[str, Route]) -> None:
    # Given the routes the template opens (no authorizer) under /manage
    open_manage = sorted(k for k, route in routes.items() if "/manage/" in k and route.authorizer is None)

    # Then only login is open, and its operation needs no security
    assert open_manage == ["POST /manage/v1/auth"]
    login = next(op for op in OPERATIONS if op.route_key == "POST /manage/v1/auth")
    assert login.security == ()


def test_the_path_parameters_of_each_operation_are_exactly_those_of_its_path() -> None:
    for op in OPERATIONS:
        in_path = re.findall(r"\{([^}]+)\}", op.path)
        declared = [p.name for p in op.parameters if p.location == "path"]
        assert sorted(declared) == sorted(in_path), op.route_key


def test_the_document_is_valid_openapi_3_1(generated: dict[str, Any]) -> None:
    # When the document is validated against the OpenAPI 3.1 specification's schema
    validate(generated)

    # Then it passed, and it is 3.1
    assert generated["openapi"] == "3.1.0"


def test_the_validator_would_see_a_broken_document(generated: dict[str, Any]) -> None:
    # Given a copy of the document with an operation whose response has no description
    broken = json.loads(json.dumps(generated))
    first_path = next(iter(broken["paths"].values()))
    next(iter(first_path.values()))["responses"]["200"] = {}

    # Then the validator refuses it (so the test above checks something)
    with pytest.raises(Exception, match="description"):
        validate(broken)


def test_every_reference_of_the_document_resolves(generated: dict[str, Any]) -> None:
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(generated)))
    assert refs
    assert refs <= set(generated["components"]["schemas"])


def test_a_server_url_becomes_the_only_server() -> None:
    assert document("http://127.0.0.1:3000")["servers"] == [{"url": "http://127.0.0.1:3000"}]
    assert "servers" not in document()


def test_the_committed_document_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "openapi.json").read_text()
    assert committed == openapi_tool.render(), "docs/openapi.json is stale: run make openapi"


def test_the_committed_document_has_sorted_keys_an_indent_of_two_and_a_trailing_newline() -> None:
    text = openapi_tool.render()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_two_models_with_one_name_are_refused() -> None:
    # Given two different models called the same
    class LoginRequest(BaseModel):
        other: int

    clash = Operation("GET", "/x", "x", "t", "s", (Answer(200, "ok", model(LoginRequest)),))

    # Then building the components refuses them rather than let one shadow the other
    with pytest.raises(ValueError, match="two models are named LoginRequest"):
        component_schemas((*OPERATIONS, clash))


# --------------------------------------------------------------------------- the operator's models
def _request_models_used_by_routes() -> dict[str, list[str]]:
    """model name -> route modules under functions/manage that import it from fleetgate.contracts (the
    operator's models: manage_requests, and a dialect's own module for its operator routes)."""
    used: dict[str, list[str]] = {}
    for path in sorted((FUNCTIONS / "manage").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fleetgate.contracts."):
                for alias in node.names:
                    used.setdefault(alias.name, []).append(path.relative_to(FUNCTIONS).as_posix())
    return used


def test_every_operator_request_body_is_the_model_a_route_validates_with() -> None:
    # Given the request models of the operator operations
    documented = {
        m.__name__
        for op in OPERATIONS
        if op.path.startswith("/manage/") and op.request is not None
        for m in op.request.models
    }

    # Then each is imported from fleetgate.contracts.manage_requests by a route module
    used = _request_models_used_by_routes()
    assert documented
    assert documented <= set(used), sorted(documented - set(used))


def test_the_routes_import_only_models_the_document_shows() -> None:
    documented = {m.__name__ for op in OPERATIONS if op.request is not None for m in op.request.models}
    assert set(_request_models_used_by_routes()) <= documented


def test_no_operator_route_defines_a_pydantic_model_of_its_own() -> None:
    # A model defined next to a route would validate bodies the document does not describe
    for path in sorted((FUNCTIONS / "manage").rglob("*.py")):
        tree = ast.parse(path.read_text())
        classes = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
        assert classes == [], f"{path.relative_to(ROOT)} defines {classes}: move them to fleetgate.contracts"


def test_the_moved_models_validate_as_before() -> None:
    # Given the device model the devices route validates with
    model = manage_requests.CreateDeviceRequest

    # Then its rules are the route's: a name is required and at most 128 characters
    assert model.model_validate({"name": "a"}).name == "a"
    with pytest.raises(ValueError, match="name"):
        model.model_validate({"name": "a" * 129})
    assert inspect.getmodule(model) is manage_requests


# --------------------------------------------------------------------------- cold start
DEVICE_HANDLERS = [
    *sorted(FUNCTIONS.glob("thingsboard/*/app.py")),
    *sorted(FUNCTIONS.glob("thingdatas/*/app.py")),
    *sorted(FUNCTIONS.glob("xyte/*/app.py")),
]
_PROBE = """
import importlib.util, sys
for i, path in enumerate(sys.argv[1:]):
    spec = importlib.util.spec_from_file_location(f"handler_{i}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
print(sorted({name.split(".")[0] if name.startswith("pydantic") else name for name in sys.modules
              if name.startswith(("pydantic", "fleetgate.contracts"))}))
"""


def test_no_device_handler_loads_the_contracts_or_pydantic() -> None:
    # Given every device handler, imported in a fresh interpreter as Lambda would
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "core"),
        "POWERTOOLS_METRICS_NAMESPACE": "fleetgate",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, DEVICE_HANDLERS)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )

    # Then neither pydantic nor fleetgate.contracts was loaded
    assert len(DEVICE_HANDLERS) >= 19 + 9  # ThingsBoard, ThingDatas, Xyte
    assert result.stdout.strip() == "[]"


def test_the_probe_would_see_the_contracts_loaded() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "core")}
    probe = _PROBE.replace(
        "import importlib.util, sys", "import importlib.util, sys, fleetgate.contracts.spec"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, timeout=60
    )
    assert "fleetgate.contracts.spec" in result.stdout
