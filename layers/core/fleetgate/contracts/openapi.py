"""The OpenAPI 3.1 document of every HTTP route, built from the contracts (``OPERATIONS``) and their
pydantic models; ``tools/openapi.py --write`` writes it to ``docs/openapi.json``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from fleetgate.contracts import (
    manage,
    thingdatas,
    thingsboard,
    thingspro,
    thingspro_manage,
    xyte,
    xyte_files,
    xyte_registry,
    xyte_sync,
)
from fleetgate.contracts.spec import REF, Answer, Body, Operation

OPENAPI_VERSION = "3.1.0"
API_VERSION = "0.1.0"
OPERATIONS: tuple[Operation, ...] = (
    thingsboard.OPERATIONS
    + thingdatas.OPERATIONS
    + xyte_registry.OPERATIONS
    + xyte_sync.OPERATIONS
    + xyte_files.OPERATIONS
    + thingspro.spec_operations()
    + manage.OPERATIONS
    + thingspro_manage.OPERATIONS
)

TAGS = [
    {
        "name": thingsboard.TAG,
        "description": "The ThingsBoard HTTP device API. The credential is the device's access token in the "
        "path (`/api/v1/{token}/...`): OpenAPI has no security scheme for a token in the path, so it is the "
        "`token` path parameter. Provisioning (`POST /api/v1/provision`) has no token: the profile's "
        "provision key and secret in the body are the credential.",
    },
    {
        "name": thingdatas.TAG,
        "description": "The EMQX Fleets ThingDatas device API: HTTP Basic with a deployment API key "
        "(`id:secret`) whose permissions cover the call.",
    },
    {
        "name": xyte.TAG,
        "description": "The Xyte device API: registration (`POST /v1/devices`, the model's hardware key in "
        "the body) and the hub, where a device sends its raw access key as `Authorization` (no scheme).",
    },
    {
        "name": thingspro.TAG,
        "description": "Moxa's ThingsPro Cloud API of one gateway, under "
        "/thingspro/gateways/{gateway_id}/api/v1: every operation of Moxa's document 2.4.0, delivered to "
        "the gateway over its MQTT remote API. Tokens from POST .../api/v1/auth, sent as "
        "Authorization: Bearer or mx-api-token.",
    },
    {
        "name": manage.TAG,
        "description": "The operator API: a Bearer JWT from `POST /manage/v1/auth` on every other route.",
    },
]

SECURITY_SCHEMES = {
    "thingDatasBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "A ThingDatas deployment API key: user = the key's id, password = its secret "
        "(created with POST /manage/v1/api-keys). Its permissions (method + path prefix) must cover "
        "the call.",
    },
    "xyteAccessKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A Xyte device's access key, as registration returned it, sent raw (no scheme).",
    },
    "thingsproToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A ThingsPro token from POST /thingspro/gateways/{gateway_id}/api/v1/auth, sent as "
        "Authorization: Bearer <token> or as the mx-api-token header.",
    },
    "operatorJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The token POST /manage/v1/auth returns (a Cognito access token), checked by the "
        "API's JWT authorizer.",
    },
}


def document(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1.0 document; ``server_url`` becomes its only server."""
    out: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "fleetgate",
            "version": API_VERSION,
            "description": "A serverless device backend speaking ThingsBoard's HTTP device API and EMQX "
            "Fleets' ThingDatas API, with an operator API under /manage/v1. Generated from the code "
            "(fleetgate.contracts): never edit it by hand.",
        },
    }
    if server_url:
        out["servers"] = [{"url": server_url}]
    out["tags"] = TAGS
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
    out["paths"] = paths
    out["components"] = {
        "responses": component_responses(OPERATIONS),
        "schemas": component_schemas(OPERATIONS),
        "securitySchemes": SECURITY_SCHEMES,
    }
    return out


def component_responses(operations: tuple[Operation, ...]) -> dict[str, Any]:
    """The named answers, which many routes share, once each."""
    named: dict[str, Answer] = {}
    for operation in operations:
        for answer in operation.answers:
            if answer.name and named.setdefault(answer.name, answer) is not answer:
                raise ValueError(f"two answers are named {answer.name}")
    return {name: _answer(named[name]) for name in sorted(named)}


def component_schemas(operations: tuple[Operation, ...]) -> dict[str, Any]:
    """Every model the operations refer to, with the models those refer to, by class name."""
    models: dict[str, type[BaseModel]] = {}
    for operation in operations:
        bodies = [operation.request] + [a.body for a in operation.answers]
        for body in bodies:
            for m in body.models if body else ():
                if models.setdefault(m.__name__, m) is not m:
                    raise ValueError(f"two models are named {m.__name__}: {models[m.__name__]} and {m}")
    _, top = models_json_schema([(m, "validation") for m in models.values()], ref_template=REF)
    schemas: dict[str, Any] = top.get("$defs", {})
    missing = set(models) - set(schemas)
    if missing:
        raise ValueError(f"models without a component of their own name: {sorted(missing)}")
    return {name: _without_null_defaults(schemas[name]) for name in sorted(schemas)}


def _without_null_defaults(value: Any) -> Any:
    """pydantic writes ``"default": null`` for optional fields; left out, as absent and null mean the same
    to the handlers and such a default may contradict a field's schema."""
    if isinstance(value, dict):
        return {k: _without_null_defaults(v) for k, v in value.items() if not (k == "default" and v is None)}
    if isinstance(value, list):
        return [_without_null_defaults(v) for v in value]
    return value


def _content(body: Body) -> dict[str, Any]:
    return {media: {"schema": schema} for media, schema in body.content.items()}


def _answer(answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"description": answer.description}
    if answer.headers:
        out["headers"] = answer.headers
    if answer.body is not None:
        out["content"] = _content(answer.body)
    return out


def _operation(operation: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": operation.operation_id,
        "tags": [operation.tag],
        "summary": operation.summary,
    }
    if operation.description:
        out["description"] = operation.description
    if operation.parameters:
        out["parameters"] = [p.openapi() for p in operation.parameters]
    if operation.request is not None:
        out["requestBody"] = {"required": operation.request_required, "content": _content(operation.request)}
    out["responses"] = {
        str(a.status): {"$ref": f"#/components/responses/{a.name}"} if a.name else _answer(a)
        for a in operation.answers
    }
    out["security"] = list(operation.security)
    return out
