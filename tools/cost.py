"""What one device costs per month, by pattern, against AWS IoT Core's price for the same device over MQTT.

Prices are us-east-1 list prices (arm64 Lambda, HTTP API, SQS standard, DynamoDB on-demand, IoT Core),
without free tiers; change them here and run ``python tools/cost.py --write-docs`` to print the table and
write it into ``docs/performance.md`` between its ``cost`` markers. AWS calls per request are the ones
``make bench`` counts.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

MONTH_S = 30 * 24 * 3600

LAMBDA_GB_S = 0.0000133334  # arm64, per GB-second
LAMBDA_REQUEST = 0.20 / 1e6
HTTP_API_REQUEST = 1.00 / 1e6
SQS_REQUEST = 0.40 / 1e6
DDB_WRITE_UNIT = 0.625 / 1e6  # on-demand, per write request unit
DDB_READ_UNIT = 0.125 / 1e6  # on-demand, per read request unit (a consistent read of <= 4 KB is 1)
IOT_CONNECTION_MINUTE = 0.08 / 1e6
IOT_MESSAGE = 1.00 / 1e6  # per 5 KB message
IOT_RULE_AND_ACTION = 0.15 / 1e6 + 0.15 / 1e6


@dataclass(frozen=True)
class Pattern:
    name: str
    requests: float  # per month
    seconds: float  # billed Lambda duration per request
    memory_gb: float
    sqs_requests: float  # per request
    read_units: float  # per request
    write_units: float  # per request

    def monthly(self) -> float:
        per_request = (
            self.seconds * self.memory_gb * LAMBDA_GB_S
            + LAMBDA_REQUEST
            + HTTP_API_REQUEST
            + self.sqs_requests * SQS_REQUEST
            + self.read_units * DDB_READ_UNIT
            + self.write_units * DDB_WRITE_UNIT
        )
        return self.requests * per_request


def patterns(cap_s: int = 25, telemetry_every_s: int = 60) -> list[Pattern]:
    polls = MONTH_S / cap_s
    # an idle long-poll: token read (0.5 RU) + shadow read (1 RU) before and after each of its two SQS
    # waits (20 s + the rest), plus two ReceiveMessage calls
    long_poll = Pattern(
        "long-polls one channel continuously (attributes/updates or rpc)",
        polls,
        cap_s,
        0.125,
        2,
        0.5 + 3 * 1,
        0,
    )
    telemetry = Pattern(
        f"posts telemetry every {telemetry_every_s} s", MONTH_S / telemetry_every_s, 0.030, 0.256, 0, 0.5, 2
    )
    return [long_poll, telemetry]


def iot_core(messages: float) -> float:
    return MONTH_S / 60 * IOT_CONNECTION_MINUTE + messages * (IOT_MESSAGE + IOT_RULE_AND_ACTION)


def table() -> str:
    """The cost table, as Markdown."""
    long_poll, telemetry = patterns()
    return "\n".join(
        [
            "| device pattern | requests / month | fleetgate over HTTP (USD / month) "
            "| AWS IoT Core over MQTT |",
            "|---|---:|---:|---|",
            f"| {long_poll.name} | {long_poll.requests:,.0f} | {long_poll.monthly():.2f} | "
            f"{iot_core(0):.4f}: connected all month, pushed to at once |",
            f"| SDK default: long-polls both channels | {2 * long_poll.requests:,.0f} | "
            f"{2 * long_poll.monthly():.2f} | {iot_core(0):.4f} |",
            f"| {telemetry.name} | {telemetry.requests:,.0f} | {telemetry.monthly():.3f} | "
            f"{iot_core(telemetry.requests):.3f}: connection + messages + one rule action each |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write-docs", action="store_true", help="also write the table into docs/performance.md"
    )
    args = parser.parse_args()
    print(table())
    if args.write_docs:
        root = Path(__file__).resolve().parents[1]
        sys.path.insert(0, str(root))
        from tools.doc_tables import DOCS, write_block  # noqa: PLC0415 - only when writing

        write_block(DOCS / "performance.md", "cost", table())
        print(f"wrote the table into {(DOCS / 'performance.md').relative_to(root)}")


if __name__ == "__main__":
    main()
