"""Operator API: a Xyte device's config, commands and licenses (``/manage/v1/xyte/devices/{id}/...``).

- ``GET .../config``: the current config, its version and the version the device last acknowledged;
  ``PUT .../config`` ``{config, name?}``: a new version, published at once to ``v1/device/{id}/config``
  (``published`` says whether the publish went out; either way the device sees the new
  ``config_version`` in its next telemetry answer); ``GET .../config/versions``: the 20 kept.
- ``POST .../commands`` ``{name, parameters?, timeout?}`` (timeout: seconds, 1-604800, default 86400):
  201 with the command, pending, published to ``v1/device/{id}/commands``; ``GET .../commands`` (newest
  first, ``limit``, ``nextToken``), ``GET .../commands/{commandId}``, ``POST .../commands/{commandId}/cancel``
  (409 once it ended). The device is not told of a cancel; its later report is refused (422).
- ``POST .../licenses`` ``{data, signature, expires_at?}`` (201), ``PUT .../licenses/{licenseId}`` (same
  body), ``DELETE .../licenses/{licenseId}``: each makes the license pending, raises ``new_licenses`` and
  publishes it to ``v1/device/{id}/license``; ``GET .../licenses`` lists them with their states.

404 for a device that is not a Xyte device. Errors are mapped once by ``fleetgate.dialects.manage``.
"""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.clock import now_ms
from fleetgate.contracts.xyte_sync import XyteCommandRequest, XyteConfigRequest, XyteLicenseRequest
from fleetgate.dialects import manage
from fleetgate.dialects.xyte.sync import (
    checked_id,
    command_view,
    config_version_view,
    config_view,
    license_view,
)
from fleetgate.domain import xyte_sync as rules
from fleetgate.domain.xyte_sync import License
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_sync

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)
BASE = "/manage/v1/xyte/devices/<device_id>"
MAX_CONFIG_BODY = 2 * rules.MAX_CONFIG_BYTES  # the config itself is limited as compact JSON
MAX_COMMAND_BODY = 2 * rules.MAX_PARAMS_BYTES
MAX_LICENSE_BODY = 2 * rules.MAX_LICENSE_DATA_BYTES + rules.MAX_SIGNATURE


def _published(view: dict[str, Any], published: bool) -> dict[str, Any]:
    """The view with whether the MQTT publish went out (a failure is counted where it happened)."""
    return {**view, "published": published}


# --------------------------------------------------------------------------- config
@app.get(f"{BASE}/config")
def get_config(device_id: str) -> Response:
    return manage.envelope(config_view(*xyte_sync.config_state(device_id)))


@app.put(f"{BASE}/config")
def put_config(device_id: str) -> Response:
    body = manage.parse_body(app, XyteConfigRequest, max_bytes=MAX_CONFIG_BODY)
    config = rules.check_config(body.config)
    name = None if body.name is None else rules.check_config_name(body.name)
    _, published = xyte_sync.set_config(device_id, config, name)
    return manage.envelope(_published(config_view(*xyte_sync.config_state(device_id)), published))


@app.get(f"{BASE}/config/versions")
def config_versions(device_id: str) -> Response:
    versions = [config_version_view(v) for v in xyte_sync.config_history(device_id)]
    return manage.envelope(versions, count=len(versions))


# --------------------------------------------------------------------------- commands
@app.post(f"{BASE}/commands")
def send_command(device_id: str) -> Response:
    body = manage.parse_body(app, XyteCommandRequest, max_bytes=MAX_COMMAND_BODY)
    request = rules.command_request(body.name, body.parameters, body.timeout)
    command, published = xyte_sync.send_command(device_id, request)
    metrics.add_metric(name="XyteCommandsSent", unit=MetricUnit.Count, value=1)
    return manage.envelope(_published(command_view(command, now_ms()), published), status=201)


@app.get(f"{BASE}/commands")
def list_commands(device_id: str) -> Response:
    limit, token = manage.page_query(app)
    page, next_token = xyte_sync.list_commands(device_id, limit, token)
    now = now_ms()
    return manage.page([command_view(c, now) for c in page], next_token)


@app.get(f"{BASE}/commands/<command_id>")
def get_command(device_id: str, command_id: str) -> Response:
    command = xyte_sync.get_command(device_id, checked_id(command_id, "commandId"))
    return manage.envelope(command_view(command, now_ms()))


@app.post(f"{BASE}/commands/<command_id>/cancel")
def cancel_command(device_id: str, command_id: str) -> Response:
    command = xyte_sync.cancel_command(device_id, checked_id(command_id, "commandId"))
    return manage.envelope(command_view(command, now_ms()))


# --------------------------------------------------------------------------- licenses
def _license_body() -> tuple[Any, str, str | None]:
    body = manage.parse_body(app, XyteLicenseRequest, max_bytes=MAX_LICENSE_BODY)
    return (
        rules.check_license_data(body.data),
        rules.check_signature(body.signature),
        rules.check_expires_at(body.expires_at),
    )


def _license(found: License, published: bool, status: int = 200) -> Response:
    return manage.envelope(_published(license_view(found), published), status=status)


@app.post(f"{BASE}/licenses")
def add_license(device_id: str) -> Response:
    return _license(*xyte_sync.add_license(device_id, *_license_body()), status=201)


@app.get(f"{BASE}/licenses")
def list_licenses(device_id: str) -> Response:
    found = [license_view(item) for item in xyte_sync.licenses(device_id)]
    return manage.envelope(found, count=len(found))


@app.get(f"{BASE}/licenses/<license_id>")
def get_license(device_id: str, license_id: str) -> Response:
    found = xyte_sync.get_license(device_id, checked_id(license_id, "licenseId"))
    return manage.envelope(license_view(found))


@app.put(f"{BASE}/licenses/<license_id>")
def update_license(device_id: str, license_id: str) -> Response:
    data, signature, expires_at = _license_body()
    found, published = xyte_sync.update_license(
        device_id, checked_id(license_id, "licenseId"), data, signature, expires_at
    )
    return _license(found, published)


@app.delete(f"{BASE}/licenses/<license_id>")
def remove_license(device_id: str, license_id: str) -> Response:
    return _license(*xyte_sync.remove_license(device_id, checked_id(license_id, "licenseId")))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
