"""The Xyte config, command and license device functions (HTTPS and MQTT rule functions) load neither
pydantic nor ``fleetgate.contracts`` when Lambda imports them (``tests/unit/test_openapi.py``'s probe)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.unit.test_openapi import _PROBE, FUNCTIONS, ROOT

HANDLERS = [
    FUNCTIONS / "xyte" / name / "app.py"
    for name in (
        "config",
        "command",
        "licenses",
        "on_config_update",
        "on_commands_update",
        "on_license_update",
    )
]


def test_no_xyte_sync_device_handler_loads_the_contracts_or_pydantic() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "core"),
        "POWERTOOLS_METRICS_NAMESPACE": "fleetgate",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, HANDLERS)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )

    assert all(path.exists() for path in HANDLERS)
    assert result.stdout.strip() == "[]"
