"""What one device costs per month, by pattern, against AWS IoT Core's price for the same device over MQTT.

Prices are us-east-1 list prices (arm64 Lambda, HTTP API, SQS standard, DynamoDB on-demand, IoT Core),
without free tiers; change them here and run ``python tools/cost.py --write-docs`` to print the table and
write it into ``docs/performance.md`` between its ``cost`` markers. AWS calls per request are the ones
``make bench`` counts.

Like is compared with like: where fleetgate's column stores what a device sends (DynamoDB writes), the
IoT Core column stores the same (a topic rule's DynamoDB action writing the same units), so the
difference is the transport and the compute, not whether the data is kept.
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
IOT_MESSAGE_UNIT_BYTES = 5 * 1024  # messaging is metered in 5 KB units (MQTT 5 properties included)

TELEMETRY_WRITE_UNITS = 2  # a sample's BatchWriteItem entry + the conditional UpdateItem of latest values
# Xyte telemetry over HTTPS or MQTT: the access key, the device's Xyte record and its model read
# (0.5 RU each, eventually consistent), the same writes as ThingsBoard telemetry; over MQTT the rule
# function answers on the response topic (one outbound message). A modelled count: the Xyte telemetry
# functions are not in `make bench`'s table yet.
XYTE_TELEMETRY_READ_UNITS = 3 * 0.5
XYTE_TELEMETRY_BYTES = 400  # {"status","telemetries":{...}} with MQTT 5 user properties
XYTE_REPLY_BYTES = 400  # the telemetry answer with response topic and correlation data


# ThingsPro: a message group in the default format (one tag set per message) is one rule-function run:
# the gateway's record read (0.5 RU) and the telemetry writes (make bench: GetItem, BatchWriteItem,
# UpdateItem). A change from the cloud (make bench, the Cloud API's PUT and the answer rule): the token,
# the gateway, its device and the request reads (5 reads, about 4 RU with the consistent ones), the
# request's sequence, record and delivery (3 WRU); the request published, the answer received (two
# messages) and its rule function recording it and the confirmed read (3 WRU, 1 RU); the waiting Lambda
# is billed for the gateway's round trip, modelled at 0.5 s.
THINGSPRO_MESSAGE_BYTES = 600
THINGSPRO_MESSAGE_READ_UNITS = 0.5
THINGSPRO_CHANGE_READ_UNITS = 4 + 1
THINGSPRO_CHANGE_WRITE_UNITS = 3 + 3
THINGSPRO_CHANGE_WAIT_S = 0.5
THINGSPRO_REQUEST_BYTES = 700  # the remote-API envelope with a configuration body
THINGSPRO_ANSWER_BYTES = 900
KMS_REQUEST = 0.03 / 1e4


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
        f"posts telemetry every {telemetry_every_s} s",
        MONTH_S / telemetry_every_s,
        0.030,
        0.256,
        0,
        0.5,
        TELEMETRY_WRITE_UNITS,
    )
    return [long_poll, telemetry]


def message_units(size_bytes: int) -> int:
    return -(-size_bytes // IOT_MESSAGE_UNIT_BYTES)


def connected_month() -> float:
    return MONTH_S / 60 * IOT_CONNECTION_MINUTE


def iot_core(messages: float, write_units: float = 0) -> float:
    """A device connected all month whose ``messages`` each trigger one rule with one action; with
    ``write_units``, that action is a DynamoDB write of that many units (the same storage)."""
    return connected_month() + messages * (IOT_MESSAGE + IOT_RULE_AND_ACTION + write_units * DDB_WRITE_UNIT)


@dataclass(frozen=True)
class MqttPattern:
    """A fleetgate MQTT device: each message runs a topic rule whose action invokes a rule function."""

    name: str
    messages: float  # per month
    message_bytes: int
    reply_bytes: int  # 0: no reply published
    seconds: float  # billed Lambda duration per message
    memory_gb: float
    read_units: float
    write_units: float

    def monthly(self) -> float:
        per_message = (
            (message_units(self.message_bytes) + message_units(self.reply_bytes)) * IOT_MESSAGE
            + IOT_RULE_AND_ACTION
            + self.seconds * self.memory_gb * LAMBDA_GB_S
            + LAMBDA_REQUEST
            + self.read_units * DDB_READ_UNIT
            + self.write_units * DDB_WRITE_UNIT
        )
        return connected_month() + self.messages * per_message


def xyte_patterns(telemetry_every_s: int = 60) -> tuple[MqttPattern, Pattern]:
    """A Xyte device sending telemetry every minute over MQTT, and its HTTPS twin."""
    messages = MONTH_S / telemetry_every_s
    mqtt = MqttPattern(
        f"Xyte device over MQTT: telemetry every {telemetry_every_s} s, answered on its response topic",
        messages,
        XYTE_TELEMETRY_BYTES,
        XYTE_REPLY_BYTES,
        0.030,
        0.256,
        XYTE_TELEMETRY_READ_UNITS,
        TELEMETRY_WRITE_UNITS,
    )
    https = Pattern(
        f"Xyte device over HTTPS: telemetry every {telemetry_every_s} s",
        messages,
        0.030,
        0.256,
        0,
        XYTE_TELEMETRY_READ_UNITS,
        TELEMETRY_WRITE_UNITS,
    )
    return mqtt, https


def thingspro_message_pattern(every_s: int = 60) -> MqttPattern:
    return MqttPattern(
        f"ThingsPro gateway: a message group every {every_s} s in the default format, kept as telemetry",
        MONTH_S / every_s,
        THINGSPRO_MESSAGE_BYTES,
        0,
        0.030,
        0.256,
        THINGSPRO_MESSAGE_READ_UNITS,
        TELEMETRY_WRITE_UNITS,
    )


def thingspro_change() -> float:
    """One configuration change from the cloud to an online gateway, answered within the long-poll."""
    messages = message_units(THINGSPRO_REQUEST_BYTES) + message_units(THINGSPRO_ANSWER_BYTES)
    return (
        HTTP_API_REQUEST
        + 2 * LAMBDA_REQUEST
        + (THINGSPRO_CHANGE_WAIT_S + 0.030) * 0.256 * LAMBDA_GB_S
        + messages * IOT_MESSAGE
        + IOT_RULE_AND_ACTION
        + THINGSPRO_CHANGE_READ_UNITS * DDB_READ_UNIT
        + THINGSPRO_CHANGE_WRITE_UNITS * DDB_WRITE_UNIT
        + 2 * KMS_REQUEST  # a secret sealed and unsealed (changes without one make neither call)
    )


def iot_core_change() -> float:
    """The same change sent with iot-data Publish and its answer taken by one rule, with no API."""
    messages = message_units(THINGSPRO_REQUEST_BYTES) + message_units(THINGSPRO_ANSWER_BYTES)
    return messages * IOT_MESSAGE + IOT_RULE_AND_ACTION


def table() -> str:
    """The cost table, as Markdown."""
    long_poll, telemetry = patterns()
    xyte_mqtt, xyte_https = xyte_patterns()
    groups = thingspro_message_pattern()
    changes = 100
    stored = f"connection + messages + one rule with a DynamoDB action ({TELEMETRY_WRITE_UNITS} WRU) each"
    return "\n".join(
        [
            "| device pattern | requests or messages / month | fleetgate (USD / month) "
            "| AWS IoT Core over MQTT, same storage |",
            "|---|---:|---:|---|",
            f"| {long_poll.name} | {long_poll.requests:,.0f} | {long_poll.monthly():.2f} | "
            f"{iot_core(0):.4f}: connected all month, pushed to at once |",
            f"| SDK default: long-polls both channels | {2 * long_poll.requests:,.0f} | "
            f"{2 * long_poll.monthly():.2f} | {iot_core(0):.4f} |",
            f"| {telemetry.name} | {telemetry.requests:,.0f} | {telemetry.monthly():.3f} | "
            f"{iot_core(telemetry.requests, TELEMETRY_WRITE_UNITS):.3f}: {stored} |",
            f"| {xyte_mqtt.name} | {xyte_mqtt.messages:,.0f} | {xyte_mqtt.monthly():.3f} | "
            f"{iot_core(xyte_mqtt.messages, TELEMETRY_WRITE_UNITS):.3f}: the same, no reply, no function |",
            f"| {xyte_https.name} | {xyte_https.requests:,.0f} | {xyte_https.monthly():.3f} | "
            f"{iot_core(xyte_https.requests, TELEMETRY_WRITE_UNITS):.3f} |",
            f"| {groups.name} | {groups.messages:,.0f} | {groups.monthly():.3f} | "
            f"{iot_core(groups.messages, TELEMETRY_WRITE_UNITS):.3f}: the same, no function |",
            f"| ThingsPro gateway: {changes} configuration changes a month from the Cloud API, answered "
            f"(its connection counted in the row above) | {changes} | {changes * thingspro_change():.4f} | "
            f"{changes * iot_core_change():.4f}: published with iot-data, answers to one rule, no API |",
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
