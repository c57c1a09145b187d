"""Generated tables in ``docs/``: each lives between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``.

The tool that measures or computes a table writes it there (``--write-docs``), and nothing else does, so a
table can be regenerated at any time and never drifts from what its tool produces. Text outside the markers
is left exactly as it is.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- {re.escape(name)}:start -->\n)(.*?)(<!-- {re.escape(name)}:end -->)", re.DOTALL
    )


def read_block(path: Path, name: str) -> str:
    """The text between the markers of table ``name`` in ``path``; ValueError if they are missing."""
    match = _pattern(name).search(path.read_text())
    if match is None:
        raise ValueError(f"{path} has no <!-- {name}:start --> ... <!-- {name}:end --> block")
    return match.group(2)


def write_block(path: Path, name: str, body: str) -> bool:
    """Replace the text between the markers of table ``name`` in ``path`` with ``body`` (a newline is
    added if it lacks one); True if the file changed. ValueError if the markers are missing."""
    text = path.read_text()
    read_block(path, name)  # the markers must be there
    body = body if body.endswith("\n") else body + "\n"
    updated = _pattern(name).sub(lambda m: m.group(1) + body + m.group(3), text, count=1)
    if updated != text:
        path.write_text(updated)
    return updated != text
