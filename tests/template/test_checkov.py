"""checkov's AWS checks find nothing in the template.

checkov's CloudFormation framework reads SAM's own types (``AWS::Serverless::Function``, ``HttpApi``), so
the template itself is scanned, where the reasons for the checks that do not fit fleetgate live
(``Metadata: checkov: skip`` on each resource). What only SAM's transform makes (each function's IAM role
with its policies, the API's stage, the invoke permissions) is scanned in the transformed template.

checkov pins its own dependencies, so it has a virtualenv of its own, ``.venv-checkov``, which
``make test`` and ``make template-check`` create.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fleetgate_local.cfn_yaml import load_template_file
from tests.template.test_template import transformed

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

pytestmark = [
    pytest.mark.template,
    pytest.mark.skipif(
        not CHECKOV.exists(),
        reason="checkov is not installed in .venv-checkov (`make test` and `make template-check` create it)",
    ),
]


def checkov(template: Path) -> dict[str, Any]:
    """checkov's report on ``template``: ``summary`` and ``results.failed_checks`` (``--quiet`` leaves
    out the passed and skipped ones). ``--skip-download``: nothing is fetched from checkov's platform."""
    result = subprocess.run(
        [
            *(str(CHECKOV), "-f", str(template), "--framework", "cloudformation"),
            *("--output", "json", "--compact", "--quiet", "--skip-download"),
        ],
        cwd=ROOT,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    assert [item["check_type"] for item in reports] == ["cloudformation"], result.stdout[-3000:]
    found: dict[str, Any] = reports[0]
    return found


def failures(report: dict[str, Any]) -> str:
    """One line per failed check: what to fix, where, and checkov's guideline (offline, checkov has none:
    then the check's class, whose source says what it reads)."""
    return "\n".join(
        f"{check['check_id']} {check['resource']} (lines {check['file_line_range']}): {check['check_name']}"
        f" - guideline: {check.get('guideline') or check['check_class']}"
        for check in report["results"].get("failed_checks", [])
    )


def declared_skips() -> list[tuple[str, str, str]]:
    """``(resource, check id, reason)`` of every ``Metadata: checkov: skip`` in the template."""
    resources = load_template_file(ROOT / "template.yaml")["Resources"]
    return [
        (logical_id, skip["id"], skip.get("comment", ""))
        for logical_id, resource in resources.items()
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", [])
    ]


def test_checkov_fails_no_check_of_the_template_and_skips_only_the_declared_ones() -> None:
    report = checkov(ROOT / "template.yaml")

    summary = report["summary"]
    assert summary["failed"] == 0, failures(report)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 50  # the SAM resources were scanned, not ignored
    # every skip names a check checkov runs on that resource: none is a typo that would skip nothing
    assert summary["skipped"] == len(declared_skips())


def test_every_skip_of_the_template_gives_its_reason() -> None:
    skips = declared_skips()

    assert skips
    assert [(resource, check) for resource, check, reason in skips if len(reason.split()) < 12] == []
    assert {check for _, check, _ in skips} <= {
        f"CKV_AWS_{n}" for n in (18, 27, 115, 116, 117, 119, 158, 173)
    }


def test_checkov_fails_no_check_of_what_the_sam_transform_generates(tmp_path: Path) -> None:
    source = load_template_file(ROOT / "template.yaml")["Resources"]
    result = transformed("print(json.dumps(out['Resources']))")
    assert result.returncode == 0, result.stderr
    generated = {key: value for key, value in json.loads(result.stdout).items() if key not in source}
    roles = [key for key, value in generated.items() if value["Type"] == "AWS::IAM::Role"]
    assert len(roles) >= 30  # one per function, with the policies the template gives it
    assert "AWS::ApiGatewayV2::Stage" in {value["Type"] for value in generated.values()}
    path = tmp_path / "generated.json"
    path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": generated}))

    report = checkov(path)

    assert report["summary"]["failed"] == 0, failures(report)
    assert report["summary"]["passed"] > 100
