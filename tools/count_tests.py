"""How many tests each suite holds, counted by pytest's own collection (``pytest --collect-only -q``).

A suite is a directory under ``tests/`` (unit, integration, e2e, template). Prints a Markdown table;
``--write-docs`` also writes it into ``docs/testing.md`` between its ``test-counts`` markers, so the
published counts are always what pytest collects.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "unit": "make unit",
    "integration": "make integration",
    "e2e": "make e2e",
    "template": "make template-check",
}


def suites() -> list[str]:
    """Every directory under ``tests/`` that holds test modules, in the order ``make test`` reports them."""
    found = {p.parent.relative_to(ROOT / "tests").parts[0] for p in (ROOT / "tests").rglob("test_*.py")}
    order = list(TARGETS)
    return sorted(found, key=lambda s: (order.index(s) if s in order else len(order), s))


def collected() -> Counter[str]:
    """Test ids pytest collects, counted per suite."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"pytest could not collect the tests:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    counts: Counter[str] = Counter()
    for line in out.stdout.splitlines():
        if line.startswith("tests/") and "::" in line:
            counts[line.split("/")[1]] += 1
    return counts


def table(counts: Counter[str]) -> str:
    lines = ["| suite | tests | run it alone |", "|---|---:|---|"]
    for suite in suites():
        target = TARGETS.get(suite, f"pytest tests/{suite}")
        lines.append(f"| `tests/{suite}` | {counts[suite]:,} | `{target}` |")
    lines.append(f"| all (`make test`) | {sum(counts[s] for s in suites()):,} | `make test` |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="also write the table into docs/testing.md")
    args = parser.parse_args()
    text = table(collected())
    print(text)
    if args.write_docs:
        sys.path.insert(0, str(ROOT))
        from tools.doc_tables import DOCS, write_block  # noqa: PLC0415 - only when writing

        write_block(DOCS / "testing.md", "test-counts", text)
        print(f"wrote the table into {(DOCS / 'testing.md').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
