"""The SAM template: linters, a container-free build, the resource budget and the shape the design
asks for (one function per device endpoint, every operator route behind the JWT authorizer)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fleetgate_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
SAM_VENV = ROOT / ".venv-sam" / "bin"
RESOURCE_BUDGET = 400

pytestmark = pytest.mark.template


def tool(name: str) -> str:
    """The toolchain from .venv-sam (``make`` installs it), or from PATH."""
    local = SAM_VENV / name
    found = str(local) if local.exists() else shutil.which(name)
    assert found, f"{name} is not installed: run `make install`"
    return found


def run(*args: str, timeout: int = 600, region: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_SAM_CLI_TELEMETRY": "0", "SAM_CLI_TELEMETRY": "0"}
    if region:
        env["AWS_DEFAULT_REGION"] = region
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def transformed(then: str) -> subprocess.CompletedProcess[str]:
    """Run ``then`` with ``out``, the template as CloudFormation gets it after `sam package`: local code
    URIs become S3 objects, then SAM's transform."""
    python = SAM_VENV / "python"
    script = (
        "import json\n"
        "from samtranslator.translator.transform import transform\n"
        "from samtranslator.yaml_helper import yaml_parse\n"
        "class NoManagedPolicies:\n"
        "    def load(self): return {}\n"
        "doc = yaml_parse(open('template.yaml').read())\n"
        "for r in doc['Resources'].values():\n"
        "    for uri in ('CodeUri', 'ContentUri'):\n"
        "        if uri in r.get('Properties', {}): r['Properties'][uri] = 's3://bucket/' + uri\n"
        "out = transform(doc, {}, NoManagedPolicies())\n"
    )
    return run(str(python if python.exists() else "python3"), "-c", script + then, region="us-east-1")


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load(ROOT / "template.yaml")


def test_cfn_lint_is_clean() -> None:
    result = run(tool("cfn-lint"), "template.yaml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_is_clean() -> None:
    result = run(tool("sam"), "validate", "--lint", "--template-file", "template.yaml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_transformed_template_stays_under_the_resource_budget() -> None:
    result = transformed("print(json.dumps(sorted(out['Resources'])))")

    assert result.returncode == 0, result.stderr
    resources = json.loads(result.stdout)
    assert 0 < len(resources) < RESOURCE_BUDGET
    assert "HttpApi" in resources


def test_the_deployed_api_needs_the_jwt_on_every_operator_route_but_login() -> None:
    """What API Gateway imports: SAM's OpenAPI body, where each route's security is resolved (the
    DefaultAuthorizer, or NONE where a route opts out)."""
    result = transformed(
        "body = out['Resources']['HttpApi']['Properties']['Body']\n"
        "print(json.dumps({f'{m.upper()} {p}': o.get('security')"
        " for p, ms in body['paths'].items() for m, o in ms.items()}))"
    )

    assert result.returncode == 0, result.stderr
    security = json.loads(result.stdout)
    operator = {key: value for key, value in security.items() if key.split(" ")[1].startswith("/manage/")}
    device = {key: value for key, value in security.items() if key not in operator}
    assert operator.pop("POST /manage/v1/auth") == [{"NONE": []}]
    assert len(operator) > 50
    assert {key for key, value in operator.items() if value != [{"OperatorJwt": []}]} == set()
    assert device
    assert {key for key, value in device.items() if value != [{"NONE": []}]} == set()


def test_sam_build_works_without_a_container_and_ships_compiled_layers(tmp_path: Path) -> None:
    build_dir = tmp_path / "build"

    result = run(tool("sam"), "build", "--build-dir", str(build_dir), "--parallel", timeout=900)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    core = build_dir / "CoreLayer" / "python" / "fleetgate"
    assert list(core.rglob("__pycache__/*.cpython-313.pyc")), "the core layer ships no python3.13 .pyc"
    deps = build_dir / "DependenciesLayer" / "python"
    assert list(deps.glob("pydantic_core/*aarch64*.so")), "pydantic-core was not built for arm64"
    assert list(deps.rglob("aws_lambda_powertools/__pycache__/*.cpython-313.pyc"))


# Xyte device functions serve one resource family each, several routes (docs/xyte-sync.md)
XYTE_FAMILY_FUNCTIONS = {"XyteConfigFunction", "XyteCommandFunction", "XyteLicensesFunction"}


def test_each_device_endpoint_is_its_own_function(template: Template) -> None:
    # ThingsBoard and ThingDatas: one function per route; Xyte's functions serve one resource family each
    # (/v1/devices/..., docs/xyte.md)
    device_routes = [
        (f.logical_id, r.route_key)
        for f in template.functions()
        for r in f.routes
        if not r.path.startswith(("/manage", "/v1/devices", "/thingspro/"))
    ]

    functions = [logical_id for logical_id, _ in device_routes]
    assert device_routes
    assert len(functions) == len(set(functions)), device_routes


def test_every_operator_route_but_login_needs_the_jwt_authorizer(template: Template) -> None:
    routes = [r for f in template.functions() for r in f.routes if r.path.startswith("/manage")]

    open_routes = [r.route_key for r in routes if r.authorizer is None]
    assert open_routes == ["POST /manage/v1/auth"]
    assert {r.authorizer for r in routes if r.authorizer} == {"OperatorJwt"}


# Device endpoints whose job is to write the registry: provisioning creates devices; the claim request
# writes only its own DEVICE#<id>/CLAIM item (an inline statement, pinned in test_thingsboard_claim.py).
# Xyte registration creates devices, and a Xyte device may delete itself (as the operator's delete).
REGISTRY_WRITERS = {
    "TbProvisionFunction",
    "TbPostClaimFunction",
    "XyteRegisterFunction",
    "XyteDeleteDeviceFunction",
    # Send Dump and Append to Dump write only DEVICE#<id>/DUMP#<id> items (pinned in test_xyte_dumps.py);
    # config, commands and licenses only their own DEVICE#<id> items and record attributes (pinned in
    # test_xyte_sync_walk.py): inline statements each
    "XyteSendDumpFunction",
    "XyteAppendDumpFunction",
    *XYTE_FAMILY_FUNCTIONS,
}


def _device_items_only(policy: dict, allowed: tuple[str, ...] = ("DEVICE#*",)) -> bool:
    """An inline statement list whose every statement is limited to DEVICE#<id> items (a device's own
    satellites: never a token, name or model item), or to one of ``allowed``'s key patterns each."""
    statements = policy.get("Statement")
    if not isinstance(statements, list):
        return False
    for statement in statements:
        if '"DevicesTable"' not in json.dumps(statement):
            continue
        keys = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        if not isinstance(keys, list) or len(keys) != 1 or keys[0] not in allowed:
            return False
    return True


def test_device_functions_cannot_write_the_registry(template: Template) -> None:
    """Least privilege: device endpoints read the devices table, and write at most DEVICE#<id> items."""
    resources = template.resources()
    for spec in template.functions():
        if spec.logical_id in REGISTRY_WRITERS | THINGSPRO_FUNCTIONS:
            continue
        if not spec.routes or spec.routes[0].path.startswith("/manage"):
            continue
        policies = resources[spec.logical_id]["Properties"]["Policies"]
        registry = [p for p in policies if json.dumps(p).find('"DevicesTable"') >= 0]
        assert registry and all(
            next(iter(p)) == "DynamoDBReadPolicy" or _device_items_only(p) for p in registry
        ), spec.logical_id


# The ThingsPro Cloud API (an operator's API per gateway, under /thingspro/) and its sign-in: a
# gateway's own items (its record, its confirmed reads) and ThingsPro tokens (TPETOKEN#<sha256>), each
# statement limited to one of the two.
THINGSPRO_FUNCTIONS = {"ThingsProAuthFunction", "ThingsProCloudApiFunction"}


def test_the_thingspro_api_writes_only_gateway_items_and_tokens(template: Template) -> None:
    resources = template.resources()
    served = {
        f.logical_id for f in template.functions() if any(r.path.startswith("/thingspro/") for r in f.routes)
    }
    assert served == THINGSPRO_FUNCTIONS
    for logical_id in sorted(served):
        policies = resources[logical_id]["Properties"]["Policies"]
        registry = [p for p in policies if '"DevicesTable"' in json.dumps(p)]
        assert registry and all(_device_items_only(p, ("DEVICE#*", "TPETOKEN#*")) for p in registry), (
            logical_id
        )


def test_the_device_items_check_refuses_an_unlimited_statement() -> None:
    unlimited = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem"],
                "Resource": {"Fn::GetAtt": ["DevicesTable", "Arn"]},
            }
        ]
    }
    limited = {
        "Statement": [
            unlimited["Statement"][0]
            | {"Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["DEVICE#*"]}}}
        ]
    }
    assert not _device_items_only(unlimited) and _device_items_only(limited)
