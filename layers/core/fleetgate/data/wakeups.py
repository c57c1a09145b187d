"""Per-device SQS wake-up queues for long-polling requests.

Each device has one queue per long-poll channel (``attributes`` and ``rpc``): a channel's poller is the
only consumer of its queue, so a wake-up meant for one poller can never be swallowed by the other.
A message is only a hint: DynamoDB stays the source of truth, and a poller checks it before it waits
and after it wakes, so a lost or duplicated wake-up costs latency, never data.
"""

from __future__ import annotations

import time
from contextlib import suppress
from typing import Any

from botocore.config import Config

from fleetgate.data.aws import client, translated_errors
from fleetgate.errors import FleetgateError
from fleetgate.observability import logger

CHANNELS = ("attributes", "rpc")
MAX_WAIT_S = 20  # SQS long-poll ceiling

# A receive that waits MAX_WAIT_S must not be cut off by the clients' default 10 s read timeout (and then
# retried until the function times out): give it the whole wait plus a margin, and no retry, since the
# poller re-checks the store and waits again on its own.
_RECEIVE = Config(read_timeout=MAX_WAIT_S + 5, retries={"mode": "standard", "max_attempts": 1})


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
    """Block up to ``seconds`` (at most 20) for a wake-up; True if one came. Consumes what it receives.

    Never raises: a queue that fails or does not answer only costs the poller its wake-up, so it naps
    for the rest of this wait (at most a second) and re-checks the store like after any wait."""
    wait_s = max(0, min(MAX_WAIT_S, int(seconds)))
    started = time.monotonic()
    try:
        with translated_errors():
            received: dict[str, Any] = client("sqs", _RECEIVE).receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
            )
    except FleetgateError:
        logger.warning("Wake-up queue receive failed; polling the store instead", extra={"queue": url})
        time.sleep(max(0.0, min(1.0, seconds - (time.monotonic() - started))))
        return False
    messages = received.get("Messages", [])
    if messages:
        with suppress(FleetgateError), translated_errors():  # undeleted wake-ups come back as hints only
            client("sqs").delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
    return bool(messages)
