"""Per-device SQS wake-up queues for long-polling requests.

Each device has one queue per long-poll channel (``attributes`` and ``rpc``): a channel's poller is the
only consumer of its queue, so a wake-up meant for one poller can never be swallowed by the other.
A message is only a hint: DynamoDB stays the source of truth, and a poller checks it before it waits
and after it wakes, so a lost or duplicated wake-up costs latency, never data.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from fleetgate.data.aws import client, translated_errors
from fleetgate.errors import FleetgateError

CHANNELS = ("attributes", "rpc")
MAX_WAIT_S = 20  # SQS long-poll ceiling


def queue_name(prefix: str, device_id: str, channel: str) -> str:
    return f"{prefix}{device_id}-{channel}"


def create_queues(prefix: str, device_id: str) -> dict[str, str]:
    """Create the device's queues; returns channel → queue URL."""
    sqs = client("sqs")
    urls = {}
    with translated_errors():
        for channel in CHANNELS:
            urls[channel] = sqs.create_queue(
                QueueName=queue_name(prefix, device_id, channel),
                Attributes={
                    "MessageRetentionPeriod": "300",
                    "ReceiveMessageWaitTimeSeconds": "0",
                    "VisibilityTimeout": "5",
                    "SqsManagedSseEnabled": "true",
                },
            )["QueueUrl"]
    return urls


def delete_queues(urls: dict[str, str]) -> None:
    sqs = client("sqs")
    for url in urls.values():
        with suppress(FleetgateError), translated_errors():  # a queue already gone is what we wanted
            sqs.delete_queue(QueueUrl=url)


def notify(url: str | None, reason: str) -> None:
    """Wake the poller of this queue, if any. Best effort: pollers re-check the store anyway."""
    if not url:
        return
    with suppress(FleetgateError), translated_errors():  # a missed wake-up only delays delivery
        client("sqs").send_message(QueueUrl=url, MessageBody=reason)


def wait(url: str, seconds: float) -> bool:
    """Block up to ``seconds`` (at most 20) for a wake-up; True if one came. Consumes what it receives."""
    wait_s = max(0, min(MAX_WAIT_S, int(seconds)))
    sqs = client("sqs")
    with translated_errors():
        received: dict[str, Any] = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
        )
    messages = received.get("Messages", [])
    if messages:
        with translated_errors():
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
    return bool(messages)
