"""Settings every test process needs before any module of the core is imported, the run's order, and the
scan of everything the suite logged for the secrets it made (``tests/secret_scan.py``).

Powertools reads its metrics namespace once, when ``fleetgate.observability`` is first imported; in
Lambda the template's environment is there before that, so give the test process the same value.

The template checks (cfn-lint, sam validate, sam build: a minute or more of subprocesses) run first,
so that in a parallel run (``pytest -n``) they overlap the rest instead of finishing alone at the end.
The order depends only on the collected items, so every worker collects the same sequence.

Secrets are collected from every HTTP exchange of ``requests`` (the end-to-end tests, ThingsBoard's SDK)
and every in-process handler invocation (the integration tests, ``make bench``'s helpers); the logs are
the local stack's log files (``SCAN.add_log_file``) and each test's captured stdout,
stderr and log records, where the in-process handlers' Powertools lines land. Each test process scans
its own logs when its session ends: a secret found fails the run (an error in the last test's teardown)
and the terminal summary prints how many secrets and lines were scanned.

The proof suites (fuzzing, isolation matrix, races) record their figures with
``tests.figures.record_figure``; the run's summary prints them, whichever worker measured them.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests.adapters

from fleetgate_local.inprocess import InProcessFunctions
from tests.figures import FIGURES
from tests.secret_scan import SCAN

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "fleetgate")

_SUMMARY_DIR = "FLEETGATE_SECRET_SCAN_DIR"  # where each test process leaves its counts for the summary
_keeps_output = True  # False in the controller of a parallel run: its workers run the tests and scan


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("template") is None)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STARTED] = time.time()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    _figures_summary(terminalreporter, config)
    _secret_scan_summary(terminalreporter, config)


def _figures_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The figures recorded during this run, one line each."""
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    if cache is None or hasattr(config, "workerinput"):
        return
    started = config.stash.get(_STARTED, 0.0)
    fresh = [p for p in sorted(cache.mkdir(FIGURES).glob("*.json")) if p.stat().st_mtime >= started]
    if fresh:
        terminalreporter.section("fleetgate figures")
        for path in fresh:
            terminalreporter.write_line(f"{path.stem}: {path.read_text()}")


_STARTED = pytest.StashKey[float]()


# ------------------------------------------------------------------ collecting secrets
_send = requests.adapters.HTTPAdapter.send
_invoke = InProcessFunctions.invoke


def _send_collecting(
    adapter: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any
) -> requests.Response:
    SCAN.collect_headers(request.headers)
    SCAN.collect_body(request.body)
    response = _send(adapter, request, **kwargs)
    if not kwargs.get("stream"):  # a streamed body is the caller's to read
        SCAN.collect_body(response.content)
    return response


def _invoke_collecting(functions: InProcessFunctions, logical_id: str, event: Any) -> dict[str, Any]:
    if isinstance(event, dict):  # an HTTP API event (a rule function's may be anything a test sends)
        SCAN.collect_headers(event.get("headers") or {})
        SCAN.collect_body(event.get("body"))
    result = _invoke(functions, logical_id, event)
    SCAN.collect_body(result.get("body") if isinstance(result, dict) else None)
    return result


requests.adapters.HTTPAdapter.send = _send_collecting  # type: ignore[method-assign]
InProcessFunctions.invoke = _invoke_collecting  # type: ignore[method-assign]


# ------------------------------------------------------------------ scanning the logs
def pytest_configure(config: pytest.Config) -> None:
    global _keeps_output  # noqa: PLW0603 (one flag per test process)
    if not hasattr(config, "workerinput"):  # the workers inherit the controller's directory
        os.environ[_SUMMARY_DIR] = tempfile.mkdtemp(prefix="fleetgate-secret-scan-")
        _keeps_output = not getattr(config.option, "numprocesses", None)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not _keeps_output:
        return
    text = "\n".join(part for part in (report.capstdout, report.capstderr, report.caplog) if part)
    SCAN.add_output(f"{report.nodeid} ({report.when})", text)


@pytest.fixture(scope="session", autouse=True)
def _secret_scan(request: pytest.FixtureRequest) -> Iterator[None]:
    """When this test process's session ends: no log it wrote holds a secret it made."""
    yield
    findings = SCAN.findings()
    counts = {
        "secrets": len(SCAN.secrets),
        "lines": SCAN.lines_scanned,
        "files": len(SCAN.log_files),
        "outputs": len(SCAN.outputs),
        "found": len(findings),
    }
    summary_dir = os.environ.get(_SUMMARY_DIR)
    if summary_dir and Path(summary_dir).is_dir():
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        (Path(summary_dir) / f"{worker}.json").write_text(json.dumps(counts))
    if findings:  # pytest.fail, not assert: the report names each place without printing the secret
        pytest.fail("the suite logged secrets it made:\n" + "\n".join(map(str, findings[:50])), pytrace=False)


def _secret_scan_summary(terminalreporter: Any, config: pytest.Config) -> None:
    summary_dir = os.environ.get(_SUMMARY_DIR)
    if hasattr(config, "workerinput") or not summary_dir or not Path(summary_dir).is_dir():
        return
    reports = [json.loads(path.read_text()) for path in sorted(Path(summary_dir).glob("*.json"))]
    for path in Path(summary_dir).glob("*.json"):
        path.unlink()
    Path(summary_dir).rmdir()
    if reports:
        total = {key: sum(report[key] for report in reports) for key in reports[0]}
        terminalreporter.write_line(
            f"secret scan: {total['secrets']:,} secrets collected, {total['lines']:,} log lines scanned "
            f"({total['files']} local stack log files, {total['outputs']:,} captured test outputs), "
            f"{total['found']} found"
        )
