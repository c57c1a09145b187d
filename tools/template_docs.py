"""The deployment parameters and outputs of ``template.yaml``, as Markdown tables for ``docs/deploying.md``.

Read from the template itself (each parameter's ``Default``, allowed values or range, and
``Description``; each output's ``Description``), so the documentation lists exactly what ``sam deploy``
accepts. Prints the tables; ``--write-docs`` also writes them between the ``parameters`` and ``outputs``
markers of ``docs/deploying.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))

from fleetgate_local.cfn_yaml import load_template_file  # noqa: E402


def _cell(text: Any) -> str:
    """One table cell: whitespace folded, ``|`` and angle brackets escaped for Markdown."""
    text = " ".join(str(text).split())
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _allowed(declaration: dict[str, Any]) -> str:
    if "AllowedValues" in declaration:
        return ", ".join(f"`{v}`" for v in declaration["AllowedValues"])
    if "MinValue" in declaration or "MaxValue" in declaration:
        return f"{declaration.get('MinValue', '')}-{declaration.get('MaxValue', '')}"
    return ""


def parameters_table(template: dict[str, Any]) -> str:
    lines = ["| parameter | default | allowed | meaning |", "|---|---|---|---|"]
    for name, declaration in (template.get("Parameters") or {}).items():
        default = declaration.get("Default")
        shown = "(empty)" if default == "" else f"`{default}`" if default is not None else "(required)"
        lines.append(
            f"| `{name}` | {shown} | {_allowed(declaration)} | {_cell(declaration.get('Description', ''))} |"
        )
    return "\n".join(lines)


def outputs_table(template: dict[str, Any]) -> str:
    lines = ["| output | meaning |", "|---|---|"]
    for name, declaration in (template.get("Outputs") or {}).items():
        value = declaration.get("Value")
        meaning = declaration.get("Description") or (
            f"name of `{value['Ref']}`" if isinstance(value, dict) and "Ref" in value else ""
        )
        lines.append(f"| `{name}` | {_cell(meaning)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write-docs", action="store_true", help="also write the tables into docs/deploying.md"
    )
    args = parser.parse_args()
    template = load_template_file(ROOT / "template.yaml")
    print(parameters_table(template), outputs_table(template), sep="\n\n")
    if args.write_docs:
        sys.path.insert(0, str(ROOT))
        from tools.doc_tables import DOCS, write_block  # noqa: PLC0415 - only when writing

        write_block(DOCS / "deploying.md", "parameters", parameters_table(template))
        write_block(DOCS / "deploying.md", "outputs", outputs_table(template))
        print(f"wrote the tables into {(DOCS / 'deploying.md').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
