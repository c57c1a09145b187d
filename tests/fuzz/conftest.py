"""Fixtures of the fuzzing suite: a local stack of its own, with long-polls capped at 1 s (a fuzzed poll
that waits costs a second, not 25), and fresh resources for each test (fuzzing the operator API
deletes and regenerates what it finds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetgate_local.stack import LocalStack
from tests.fuzz.seeding import Seeds, seed
from tests.secret_scan import SCAN

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fuzz_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fuzzing stack's log (requests, handlers' output): where a 5xx's traceback is."""
    path = tmp_path_factory.mktemp("fuzz") / "stack.log"
    SCAN.add_log_file(path)  # scanned for the secrets the suite made, as every stack's log is
    return path


@pytest.fixture(scope="session")
def fuzz_stack(fuzz_log: Path) -> Iterator[LocalStack]:
    with (
        fuzz_log.open("a", encoding="utf-8") as log,
        LocalStack(
            REPOSITORY,
            parameter_overrides={"LongPollCapSeconds": "1"},
            log=lambda line: print(line, file=log, flush=True),
        ) as stack,
    ):
        yield stack


@pytest.fixture
def seeds(fuzz_stack: LocalStack) -> Seeds:
    return seed(fuzz_stack)
