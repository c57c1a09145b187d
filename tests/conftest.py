"""Settings every test process needs before any module of the core is imported, and the run's order.

Powertools reads its metrics namespace once, when ``fleetgate.observability`` is first imported; in
Lambda the template's environment is there before that, so give the test process the same value.

The template checks (cfn-lint, sam validate, sam build: a minute or more of subprocesses) run first,
so that in a parallel run (``pytest -n``) they overlap the rest instead of finishing alone at the end.
The order depends only on the collected items, so every worker collects the same sequence.
"""

import os

import pytest

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "fleetgate")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("template") is None)
