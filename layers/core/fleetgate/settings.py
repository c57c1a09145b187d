"""Typed settings, read once per execution environment from the variables the template sets.

A frozen dataclass rather than a pydantic model: device handlers would otherwise pay pydantic's import
(about 180 ms measured) on every cold start just to read a handful of strings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache

from fleetgate.errors import FleetgateError


class ConfigurationError(FleetgateError):
    """A setting the function needs is missing: a deployment error, not a client one."""


@dataclass(frozen=True)
class Settings:
    stage: str = "dev"
    devices_table: str = ""
    shadows_table: str = ""
    telemetry_table: str = ""
    telemetry_retention_days: int = 90
    event_retention_days: int = 90  # events' TTL (EventRetentionDays)
    shadow_history_retention_days: int = 90  # accepted reports' TTL (ShadowHistoryRetentionDays)
    device_payload_limit_bytes: int = 1_048_576
    operator_user_pool_client_id: str = ""
    long_poll_cap_seconds: int = 25
    wakeup_queue_prefix: str = ""
    rpc_table: str = ""
    client_rpc_handler_function_arn: str = ""  # a deployer's Lambda answering client-side RPC methods
    client_rpc_timeout_seconds: int = 10
    ota_table: str = ""
    files_bucket: str = ""
    ota_package_type: str = ""  # FIRMWARE or SOFTWARE: which package a device OTA function serves
    ota_upload_url_seconds: int = 900
    api_key_cache_seconds: int = 30  # how long a warm function trusts a ThingDatas API key it has read
    shadow_history_table: str = ""
    events_table: str = ""
    commands_table: str = ""
    command_retention_days: int = 30  # a command (status, answer) is kept this long after its expiry
    jobs_table: str = ""
    command_topic_prefix: str = (
        "fleetgate"  # commands go to {prefix}/commands/things/{thing}/executions/{id}/request
    )
    xyte_hub_url: str = ""  # Xyte: what registration answers as hub_url (the API's URL when empty)
    xyte_mqtt_url: str = ""  # Xyte: what registration answers as mqtt_hub_url (the MQTT endpoint)
    mqtt_domain_configuration: str = ""  # the MQTT endpoint's domain configuration (looked up when no URL)
    thingspro_key_id: str = ""  # ThingsPro: the KMS key that seals the secrets of remote-API requests
    thingspro_mqtt_url: str = ""  # ThingsPro: where gateways connect (mqtt[s]://host:port); else the domain's
    iot_data_endpoint: str = ""  # https://<id>-ats.iot.<region>.amazonaws.com; looked up when empty

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = env.get(field.name.upper())
            if raw is None or raw == "":
                continue
            try:
                values[field.name] = int(raw) if field.type == "int" else raw
            except ValueError as exc:
                raise ConfigurationError(f"{field.name.upper()} must be an integer, got {raw!r}") from exc
        return cls(**values)  # type: ignore[arg-type]

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            raise ConfigurationError(f"{name.upper()} is not set for this function")
        return str(value)


@cache
def get_settings() -> Settings:
    return Settings.from_env(os.environ)
