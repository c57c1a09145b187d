"""Operator API: ThingDatas deployment API keys (``/manage/v1/api-keys``). The secret appears once, in
the response that creates the key; errors are mapped once by ``fleetgate.dialects.manage``."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from fleetgate.clock import iso_utc
from fleetgate.contracts.manage_requests import CreateApiKeyRequest
from fleetgate.dialects import manage
from fleetgate.domain.apikeys import ApiKey
from fleetgate.observability import logger, metrics
from fleetgate.services import apikeys

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)


def render(key: ApiKey) -> dict:
    out: dict = {
        "id": key.id,
        "name": key.name,
        "permissions": [{"method": p.method, "path": p.path} for p in key.permissions],
        "createdAt": iso_utc(key.created_at, milliseconds=True),
        "status": "ACTIVE" if key.active else "REVOKED",
    }
    if key.thing_names is not None:
        out["thingNames"] = sorted(key.thing_names)
    if key.revoked_at is not None:
        out["revokedAt"] = iso_utc(key.revoked_at, milliseconds=True)
    return out


@app.post("/manage/v1/api-keys")
def create_api_key() -> Response:
    body = manage.parse_body(app, CreateApiKeyRequest)
    key, secret = apikeys.create(body.name, [(p.method, p.path) for p in body.permissions], body.thingNames)
    return manage.envelope({**render(key), "secret": secret}, status=201)


@app.get("/manage/v1/api-keys")
def list_api_keys() -> Response:
    page, next_token = apikeys.list_page(*manage.page_query(app))
    return manage.page([render(k) for k in page], next_token)


@app.get("/manage/v1/api-keys/<key_id>")
def get_api_key(key_id: str) -> Response:
    return manage.envelope(render(apikeys.get(key_id)))


@app.delete("/manage/v1/api-keys/<key_id>")
def revoke_api_key(key_id: str) -> Response:
    return manage.envelope(render(apikeys.revoke(key_id)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
