"""The project refers to nothing outside the repository: what a later engineer needs to know about the
platforms is in ``docs/`` (thingsboard.md, thingdatas.md), so no code, test or page cites notes kept
elsewhere (a ``protocols/…`` file, an absolute path on a developer's machine)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["layers", "functions", "tests", "local", "tools", "events", "docs"]
FILES = ["README.md", "Makefile", "template.yaml", "pyproject.toml", "samconfig.toml"]
FORBIDDEN = re.compile(r"\bprotocols/[\w.-]+\.md|(?<![\w.])/work/|§\s?\d")


def _project_files() -> list[Path]:
    found = [ROOT / name for name in FILES]
    for top in SOURCES:
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.append(path)
    return found


def test_no_file_cites_material_outside_the_repository():
    # Given every file of the project but this one
    files = [p for p in _project_files() if p != Path(__file__).resolve()]

    # When each is searched for citations of outside notes
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if FORBIDDEN.search(line)
    ]

    # Then there are none
    assert offending == []


def test_the_search_would_find_such_a_citation():
    assert FORBIDDEN.search("Rules under test: protocols/thingsboard-http.md §1")
    assert FORBIDDEN.search("see /work/shared/DESIGN.md")
    assert not FORBIDDEN.search('docs/thingsboard.md, "Where we differ"; https://example.com/work/x')
