"""The generated tables of ``docs/`` still match the tools that generate them, wherever the result is
deterministic (see docs/testing.md, "Generated tables"). Timings and test counts vary and are not
compared; what they are measured *for* is: the bench table names exactly the template's device
functions, the cost and template tables equal their tools' output, the test-count table lists exactly
the suites under ``tests/``. A failure means: run ``make docs`` (or ``make bench``) and commit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleetgate_local.cfn_yaml import load_template_file
from fleetgate_local.template import Template
from tools import bench, cost, count_tests, template_docs
from tools.doc_tables import DOCS, read_block, write_block

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load(ROOT / "template.yaml", {})


def _rows(block: str) -> list[list[str]]:
    """The body rows of the Markdown table in ``block``, as stripped cells."""
    lines = [line for line in block.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines[2:]]


def test_bench_table_names_exactly_the_device_functions_of_the_template(template: Template) -> None:
    # Given the template's device functions: every function with a route outside /manage, every function
    # a topic rule invokes and the MQTT authorizer
    expected = [f.logical_id for f in bench.device_functions(template)]
    assert {"XyteOnGetFunction", "TdOnCommandResponseFunction", "MqttAuthorizerFunction"} <= set(expected)

    # When the bench table's function column is read
    named = [row[0] for row in _rows(read_block(DOCS / "performance.md", "bench")) if row[0]]

    # Then it names each of them once, in the template's order
    assert named == expected


def test_bench_table_lists_for_each_function_exactly_the_events_of_its_routes(template: Template) -> None:
    # Given, per device function, the events in events/ that reach it (its routes' or its rules' topics)
    expected = {
        f.logical_id: [p.relative_to(ROOT).as_posix() for p in bench.events_for(f, template)]
        or ["(no event)"]
        for f in bench.device_functions(template)
    }
    assert expected["XyteOnGetFunction"] == ["events/xyte/on_get.json"]

    # When the bench table's event column is read, function by function
    listed: dict[str, list[str]] = {}
    function = ""
    for row in _rows(read_block(DOCS / "performance.md", "bench")):
        function = row[0] or function
        event = re.fullmatch(r"`(\S+\.json) → (\d{3}|async|allowed)`", row[4])
        listed.setdefault(function, []).append(event.group(1) if event else row[4])

    # Then each function lists exactly those events
    assert listed == expected


def test_cost_table_is_what_the_cost_tool_computes():
    assert read_block(DOCS / "performance.md", "cost") == cost.table() + "\n"


def test_parameter_and_output_tables_are_what_the_template_declares():
    template = load_template_file(ROOT / "template.yaml")

    assert read_block(DOCS / "deploying.md", "parameters") == template_docs.parameters_table(template) + "\n"
    assert read_block(DOCS / "deploying.md", "outputs") == template_docs.outputs_table(template) + "\n"


def test_test_count_table_lists_exactly_the_suites_under_tests():
    # Given the directories under tests/ that hold test modules
    suites = {p.parent.relative_to(ROOT / "tests").parts[0] for p in (ROOT / "tests").rglob("test_*.py")}

    # When the table's suite column is read (the last row is the total)
    rows = _rows(read_block(DOCS / "testing.md", "test-counts"))
    listed = {re.fullmatch(r"`tests/(\w+)`", row[0]).group(1) for row in rows[:-1]}  # type: ignore[union-attr]

    # Then they are the same, every count is a number, and the total is their sum
    assert listed == suites == set(count_tests.suites())
    counts = [int(row[1].replace(",", "")) for row in rows]
    assert counts[-1] == sum(counts[:-1])


def test_write_block_replaces_only_the_text_between_its_markers(tmp_path):
    # Given a page with two generated blocks and text around them
    page = tmp_path / "page.md"
    page.write_text(
        "intro\n<!-- a:start -->\nold a\n<!-- a:end -->\nmiddle\n<!-- b:start -->\nold b\n<!-- b:end -->\n"
    )

    # When block a is written twice
    changed = write_block(page, "a", "| new |")
    unchanged = write_block(page, "a", "| new |\n")

    # Then only a's text changed, once
    assert (changed, unchanged) == (True, False)
    assert page.read_text() == (
        "intro\n<!-- a:start -->\n| new |\n<!-- a:end -->\nmiddle\n<!-- b:start -->\nold b\n<!-- b:end -->\n"
    )


def test_a_page_without_the_markers_is_refused(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("no markers here\n")

    with pytest.raises(ValueError, match="no <!-- bench:start -->"):
        write_block(page, "bench", "| x |")
    assert page.read_text() == "no markers here\n"
