"""Write (``--write``) or check (``--check``) ``docs/openapi.json``: the OpenAPI 3.1 document generated
from ``fleetgate.contracts`` (``make openapi``). Without an option, print it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "core"))

from fleetgate.contracts.openapi import document  # noqa: E402 - after the layer is on the path

DOCUMENT = ROOT / "docs" / "openapi.json"


def render() -> str:
    """The document as committed: keys sorted, indent 2, a trailing newline."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"write {DOCUMENT.relative_to(ROOT)}")
    group.add_argument("--check", action="store_true", help="fail when the committed document is stale")
    args = parser.parse_args()
    text = render()
    if args.write:
        DOCUMENT.write_text(text)
        print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    elif args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print(f"{DOCUMENT.relative_to(ROOT)} is stale: run make openapi", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
