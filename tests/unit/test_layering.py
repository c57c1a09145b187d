"""The handlers' side of the layering (the core's is ``.importlinter``, checked by ``lint-imports``):
no module under ``functions/`` imports boto3, botocore or ``fleetgate.data`` itself; handlers reach
AWS only through the use cases of ``fleetgate.services``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
FORBIDDEN = ("boto3", "botocore", "fleetgate.data")


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an ``import`` or ``from … import`` names (at any depth: lazy imports count too),
    with ``from fleetgate import data`` read as ``fleetgate.data``."""
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append((node.lineno, node.module))
            names.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return names


def violations(source: str) -> list[str]:
    return [
        f"line {line}: {name}"
        for line, name in imported(ast.parse(source))
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]


MODULES = sorted(FUNCTIONS.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(FUNCTIONS)) for p in MODULES])
def test_no_handler_imports_the_aws_sdk_or_the_data_layer(path: Path) -> None:
    assert violations(path.read_text()) == []


@pytest.mark.parametrize(
    "source",
    [
        "import boto3",
        "import botocore.exceptions",
        "from botocore.exceptions import ClientError",
        "from fleetgate.data.devices import DeviceRepository",
        "from fleetgate import data",
        "def f():\n    from fleetgate.data import iot\n",
    ],
)
def test_the_check_sees_every_form_of_import(source: str) -> None:
    assert violations(source)


def test_the_check_allows_the_services_and_dialects() -> None:
    allowed = "from fleetgate.services import devices\nfrom fleetgate.dialects import thingdatas"
    assert violations(allowed) == []
    assert len(MODULES) > 20
