"""Figures a test measured (requests sent, cells of a matrix, writers raced), kept in the pytest cache
so that the run's summary (``tests/conftest.py``) prints them, whichever worker of a parallel run
measured them."""

from __future__ import annotations

import json
from typing import Any

import pytest

FIGURES = "fleetgate-figures"  # a directory of the pytest cache: shared by the workers of a parallel run


def record_figure(config: pytest.Config, name: str, figure: dict[str, Any]) -> None:
    """Keep ``figure`` (JSON) under ``name`` for this run's summary."""
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None:
        (cache.mkdir(FIGURES) / f"{name}.json").write_text(json.dumps(figure))
