"""The end-of-run summary as text: requests, the latency table per operation, the delivery table per
channel, the long-poll wake-up figures and the verdict (pure: a summary dict in, lines out)."""

from __future__ import annotations

from typing import Any

LONG_POLL_CHANNELS = ("tb.attributes", "tb.rpc.oneway", "tb.rpc.persistent")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def operations_table(operations: dict[str, dict[str, Any]]) -> list[str]:
    width = max([len("operation"), *map(len, operations)])
    head = f"{'operation':<{width}}  {'count':>7}  {'errors':>6}  " + "  ".join(
        f"{c:>8}" for c in ("p50", "p90", "p99", "max")
    )
    head += "  (ms)"
    lines = [head]
    for name, row in operations.items():
        lines.append(
            f"{name:<{width}}  {row['count']:>7,}  {row['errors']:>6,}  {_ms(row['p50_ms']):>8}"
            f"  {_ms(row['p90_ms']):>8}  {_ms(row['p99_ms']):>8}  {_ms(row['max_ms']):>8}"
        )
    return lines


def deliveries_table(deliveries: dict[str, dict[str, Any]]) -> list[str]:
    width = max([len("channel"), *map(len, deliveries)])
    columns = ("sent", "delivered", "lost", "dup", "misrouted", "early", "<1 s", "failed")
    keys = ("sent", "delivered", "lost", "duplicated", "misrouted", "early", "within_1s", "failed_writes")
    head = f"{'channel':<{width}}  " + "  ".join(f"{c:>9}" for c in columns)
    head += f"  {'p50':>8}  {'p90':>8}  {'p99':>8}  {'max':>8}  (ms)"
    lines = [head]
    for name, row in deliveries.items():
        counts = "  ".join(f"{row.get(k, 0):>9,}" for k in keys)
        lines.append(
            f"{name:<{width}}  {counts}  {_ms(row['p50_ms']):>8}  {_ms(row['p90_ms']):>8}"
            f"  {_ms(row['p99_ms']):>8}  {_ms(row['max_ms']):>8}"
        )
    return lines


def failures(summary: dict[str, Any]) -> list[str]:
    """Why a run failed (empty when it passed)."""
    reasons = []
    for key, text in (
        ("errors_5xx", "answers >= 500"),
        ("connection_failures", "requests without an answer"),
        ("lost", "lost deliveries"),
        ("duplicated", "duplicated deliveries"),
        ("misrouted", "deliveries to the wrong device"),
        ("unexpected", "deliveries of changes never made"),
    ):
        if summary.get(key):
            reasons.append(f"{summary[key]:,} {text}")
    if summary.get("sdk_threads_died"):
        reasons.append(f"{len(summary['sdk_threads_died'])} SDK subscription threads died")
    if summary.get("problems"):
        reasons.append(f"{len(summary['problems'])} wrong or missing replies")
    return reasons


def render(summary: dict[str, Any]) -> str:
    devices = summary["devices"]
    operator = summary["operator"]
    classes = summary["status_classes"]
    lines = [
        f"fleetgate-sim: {devices['thingsboard']} ThingsBoard + {devices['thingdatas']} ThingDatas devices"
        f" against {summary['url']}",
        f"ran {summary['elapsed_s']:.1f} s of {summary['duration_s']:.0f} s"
        + (f" after a {summary['warmup_s']:g} s warm-up" if summary.get("warmup_s") else "")
        + "; deliveries settled"
        f" {summary['settle_s']:.1f} s after the operator stopped",
        f"requests {summary['requests']:,}: "
        + "  ".join(
            f"{name} {classes.get(name, 0):,}" for name in ("2xx", "3xx", "4xx", "5xx", "connection")
        ),
        f"operator actions {operator['actions']:,} ({operator['achieved_rate']:.2f}/s of"
        f" {operator['rate']:g}/s asked), skipped {operator['skipped']:,} (no device free on that channel)",
        "",
        *operations_table(summary["operations"]),
        "",
        "deliveries (operator's write acknowledged -> device received it; two-way RPC: from sending)",
        *deliveries_table(summary["deliveries"]),
        "",
    ]
    wake = summary.get("long_poll_wake")
    if wake and wake["delivered"]:
        lines.append(
            f"long-poll wake (ThingsBoard SDK callbacks, {wake['delivered']:,} deliveries):"
            f" p50 {_ms(wake['p50_ms'])} ms,"
            f" p90 {_ms(wake['p90_ms'])} ms, p99 {_ms(wake['p99_ms'])} ms, max {_ms(wake['max_ms'])} ms;"
            f" {wake['within_1s']:,} within 1 s"
        )
    gaps = summary.get("between_polls")
    if gaps is not None and summary["devices"]["thingsboard"]:
        text = ", ".join(
            f"{name} {row['changes']} ({row['delivered']} delivered)" for name, row in gaps.items()
        )
        lines.append(f"changes made while their device had no long-poll waiting: {text or 'none'}")
    for channel, causes in (summary.get("lost_causes") or {}).items():
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in causes.items() if k != "server_status")
        lines.append(f"lost on {channel}: {counts}")
        if causes.get("server_status"):
            statuses = ", ".join(f"{k} {v}" for k, v in causes["server_status"].items())
            lines.append(f"  the server's status of those RPCs: {statuses}")
    threads = summary.get("sdk_threads")
    if threads:
        lines.append(
            f"SDK subscription threads: {threads['running']} of {threads['started']} running at the end,"
            f" {len(summary['sdk_threads_died'])} died"
        )
    deaths = summary["sdk_threads_died"]
    lines.extend(
        f"  died: {d['device']} {d['channel']} after {d.get('after_s', '?')} s: {d['error']}"
        for d in deaths[:20]
    )
    if len(deaths) > 20:
        lines.append(f"  ... and {len(deaths) - 20} more")
    lines.extend(f"  problem: {problem}" for problem in summary["problems"][:20])
    if len(summary["problems"]) > 20:
        lines.append(f"  ... and {len(summary['problems']) - 20} more")
    reasons = failures(summary)
    lines.append("result: OK" if not reasons else "result: FAILED: " + "; ".join(reasons))
    return "\n".join(lines)
