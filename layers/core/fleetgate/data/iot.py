"""MQTT publishes through the AWS IoT data plane (``iot-data`` Publish).

The data plane has a per-account endpoint (``https://<id>-ats.iot.<region>.amazonaws.com``); boto3's
default ``data-ats.iot.<region>.amazonaws.com`` is not it. The endpoint comes from, in order:

1. the ``IOT_DATA_ENDPOINT`` setting, when the deployer gives one (saves a call per cold start);
2. the SDK's own endpoint, when ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_IOT_DATA_PLANE``, boto3's
   name for this service) points clients at a local AWS: boto3 honours those variables itself;
3. ``iot:DescribeEndpoint(endpointType="iot:Data-ATS")``, looked up once per execution environment.

Any failure (AWS error, unreachable endpoint) is a ``CallFailed`` whose message names the cause.
"""

from __future__ import annotations

import base64
import os
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fleetgate.data.aws import client
from fleetgate.errors import CallFailed
from fleetgate.settings import get_settings

_SDK_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_IOT_DATA_PLANE", "AWS_ENDPOINT_URL")


def publish(
    topic: str,
    payload: bytes,
    *,
    qos: int = 1,
    response_topic: str | None = None,
    correlation_data: bytes | None = None,
    message_expiry_s: int | None = None,
) -> None:
    """Publish a JSON ``payload`` to ``topic``, with MQTT 5 properties a device may use: the response
    topic and correlation data of a request, and an expiry after which the broker drops an undelivered
    message (MQTT 3 devices receive the payload alone)."""
    params: dict[str, Any] = {
        "topic": topic,
        "qos": qos,
        "payload": payload,
        "contentType": "application/json",
        "payloadFormatIndicator": "UTF8_DATA",
    }
    if response_topic is not None:
        params["responseTopic"] = response_topic
    if correlation_data is not None:
        params["correlationData"] = base64.b64encode(correlation_data).decode()
    if message_expiry_s is not None:
        params["messageExpiry"] = message_expiry_s
    try:
        client("iot-data", endpoint_url=_endpoint_url()).publish(**params)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "") or "Unknown"
        raise CallFailed(f"iot-data Publish failed: {code}") from exc
    except BotoCoreError as exc:
        raise CallFailed(f"iot-data Publish failed: {type(exc).__name__}") from exc


def _endpoint_url() -> str | None:
    configured = get_settings().iot_data_endpoint
    if configured:
        return configured
    if any(os.environ.get(name) for name in _SDK_ENDPOINT_VARIABLES):
        return None
    return _described_endpoint(client("iot"))


@cache
def _described_endpoint(iot: Any) -> str:
    """The account's ATS data endpoint. Cached per (cached) ``iot`` client, so ``reset_clients()``,
    which tests call when they switch AWS backends, forgets it too."""
    try:
        address = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "") or "Unknown"
        raise CallFailed(f"iot DescribeEndpoint failed: {code}") from exc
    except BotoCoreError as exc:
        raise CallFailed(f"iot DescribeEndpoint failed: {type(exc).__name__}") from exc
    return f"https://{address}"


def domain_name(configuration: str) -> str | None:
    """The host name of an IoT domain configuration (``iot:DescribeDomainConfiguration``), looked up once
    per execution environment; None (logged) when it cannot be read."""
    return _domain_name(client("iot"), configuration)


@cache
def _domain_name(iot: Any, configuration: str) -> str | None:
    from fleetgate.observability import logger  # noqa: PLC0415 - only this lookup logs

    try:
        name = iot.describe_domain_configuration(domainConfigurationName=configuration).get("domainName")
    except (ClientError, BotoCoreError) as exc:
        logger.warning("The MQTT endpoint could not be looked up", extra={"reason": type(exc).__name__})
        return None
    return str(name) if name else None
