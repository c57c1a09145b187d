"""Settings every test process needs before any module of the core is imported, and the run's order.

Powertools reads its metrics namespace once, when ``fleetgate.observability`` is first imported; in
Lambda the template's environment is there before that, so give the test process the same value.

The template checks (cfn-lint, sam validate, sam build: a minute or more of subprocesses) run first,
so that in a parallel run (``pytest -n``) they overlap the rest instead of finishing alone at the end.
The order depends only on the collected items, so every worker collects the same sequence.

The proof suites (fuzzing, isolation matrix, races) record their figures with
``tests.figures.record_figure``; the run's summary prints them, whichever worker measured them.
"""

import os
import time
from typing import Any

import pytest

from tests.figures import FIGURES

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "fleetgate")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("template") is None)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STARTED] = time.time()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
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
