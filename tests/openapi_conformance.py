"""Whether an HTTP answer is one ``docs/openapi.json`` allows: shared by the in-process conformance
tests (``tests/integration/test_openapi_conformance.py``) and the local stack's (``tests/e2e``)."""

from __future__ import annotations

import base64
import json
from typing import Any

from jsonschema import Draft202012Validator

from fleetgate.contracts.openapi import document

DOC = document()


class NonConforming(AssertionError):
    pass


def conformance_problems(route_key: str, response: dict[str, Any]) -> list[str]:
    """What in ``response`` (a handler's payload-2.0 answer) the document does not allow."""
    method, path = route_key.split(" ", 1)
    operation = DOC["paths"][path][method.lower()]
    status = str(response["statusCode"])
    if status not in operation["responses"]:
        return [f"status {status} is not documented (documented: {sorted(operation['responses'])})"]
    spec = operation["responses"][status]
    if "$ref" in spec:
        spec = DOC["components"]["responses"][spec["$ref"].rsplit("/", 1)[-1]]
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    problems = [
        f"header {name} is required"
        for name, header in (spec.get("headers") or {}).items()
        if header.get("required") and name.lower() not in headers
    ]
    text = response.get("body") or ""
    raw = base64.b64decode(text) if response.get("isBase64Encoded") else text.encode()
    content = spec.get("content")
    if content is None:
        return [*problems, *([f"an empty body is documented, got {raw[:80]!r}"] if raw else [])]
    media = headers.get("content-type", "").split(";")[0].strip()
    if media not in content:
        return [*problems, f"content type {media!r} is not documented (documented: {sorted(content)})"]
    schema = content[media]["schema"]
    if media == "application/json":
        instance: Any = json.loads(raw)
    elif media.startswith("text/"):
        instance = raw.decode()
    else:
        return problems
    validator = Draft202012Validator({**schema, "components": DOC["components"]})
    return problems + [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)
    ]
