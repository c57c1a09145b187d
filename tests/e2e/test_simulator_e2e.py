"""The device simulator run as a user runs it (``python -m fleetgate_sim``, a subprocess) against the
local stack: ThingsBoard devices on ThingsBoard's SDK, ThingDatas things, and the operator acting on
both; its JSON summary shows traffic, no answer >= 500 and every change delivered exactly once, and it
deletes what it created."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]


def device_names(operator: requests.Session) -> set[str]:
    names: set[str] = set()
    params: dict[str, Any] = {"limit": 100}
    while True:
        response = operator.get(f"{operator.base_url}/manage/v1/devices", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        names.update(device["name"] for device in body["data"])
        if not body.get("nextToken"):
            return names
        params["nextToken"] = body["nextToken"]


def test_the_simulator_runs_both_dialects_and_loses_nothing(
    stack: Any, operator: requests.Session, tmp_path: Path
) -> None:
    # Given the simulator's command line against the stack, with its operator
    prefix = f"sim-{uuid.uuid4().hex[:8]}"
    summary_file = tmp_path / "summary.json"
    command = [
        sys.executable,
        "-m",
        "fleetgate_sim",
        *("--url", stack.url, "--name", stack.admin_name, "--password", stack.admin_password),
        *("--devices", "2", "--duration", "10", "--rate", "2", "--telemetry-interval", "2"),
        *("--prefix", prefix, "--seed", "7", "--json", str(summary_file), "--no-progress"),
    ]
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(REPOSITORY / "tools"), os.environ.get("PYTHONPATH", "")])
    }

    # When it runs
    run = subprocess.run(
        command, cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=240, check=False
    )

    # Then it passed, and its summary says why
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads(summary_file.read_text())
    assert summary["ok"] is True
    assert summary["devices"] == {"thingsboard": 2, "thingdatas": 2}
    assert summary["requests"] > 0
    assert summary["errors_5xx"] == 0
    assert summary["connection_failures"] == 0
    assert (summary["lost"], summary["duplicated"], summary["misrouted"], summary["unexpected"]) == (
        0,
        0,
        0,
        0,
    )
    deliveries = summary["deliveries"]
    assert sum(row["sent"] for row in deliveries.values()) > 0
    assert all(row["delivered"] == row["sent"] for row in deliveries.values())
    operations = summary["operations"]
    for operation in (
        "tb POST telemetry",
        "tb GET attributes/updates",
        "tb GET rpc",
        "td GET {thingName}/shadow",
    ):
        assert operations[operation]["count"] > 0, operation
    assert summary["sdk_threads"] == {"started": 4, "running": 4}
    assert all(row["delivered"] == row["changes"] for row in summary["between_polls"].values())
    assert summary["sdk_threads_died"] == []
    assert "result: OK" in run.stdout
    assert "long-poll wake" in run.stdout or summary["long_poll_wake"]["delivered"] == 0
    # and it deleted its devices
    assert not {name for name in device_names(operator) if name.startswith(prefix)}
