"""The local stack's API documentation, served beside the template's routes: ``GET /openapi.json`` (the
repository's ``docs/openapi.json`` with the stack's URL as its server) and ``GET /docs`` (Swagger UI,
from the ``swagger-ui-bundle`` package's assets under ``/docs/...``, so it works offline).

The bundled Swagger UI (4.x) reads OpenAPI 3.0, not 3.1: ``/docs`` is pointed at
``/docs/openapi-3.0.json``, the same document with its schemas written the 3.0 way (``nullable``
instead of a ``null`` type, ``enum`` for ``const``, one ``example``, no ``patternProperties``), for
display only.
``/openapi.json`` stays the 3.1 document.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetgate_local.events import HttpResponse

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
VIEW_PATH = "/docs/openapi-3.0.json"
_TYPES = {
    ".js": "application/javascript",
    ".css": "text/css",
    ".html": "text/html; charset=utf-8",
    ".png": "image/png",
    ".map": "application/json",
}
_INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>fleetgate API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "%s",
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    });
  </script>
</body>
</html>
"""


def swagger_ui_directory() -> Path | None:
    """Where ``swagger-ui-bundle`` keeps Swagger UI's assets; None when it is not installed."""
    try:
        import swagger_ui_bundle  # noqa: PLC0415 - optional
    except ImportError:
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


class ApiDocs:
    """Answers ``/openapi.json``, ``/docs`` and ``/docs/<asset>``; None for any other request."""

    def __init__(self, root: Path, url: Callable[[], str], assets: Path | None = None) -> None:
        self.document_path = root / "docs" / "openapi.json"
        self.url = url  # the stack's URL, known once the gateway listens
        self.assets = assets if assets is not None else swagger_ui_directory()

    def __call__(self, method: str, raw_path: str) -> HttpResponse | None:
        if method not in ("GET", "HEAD"):
            return None
        if raw_path == OPENAPI_PATH:
            return self._document(for_view=False)
        if raw_path == VIEW_PATH:
            return self._document(for_view=True)
        if raw_path in (DOCS_PATH, DOCS_PATH + "/"):
            return self._index()
        if raw_path.startswith(DOCS_PATH + "/"):
            return self._asset(raw_path.removeprefix(DOCS_PATH + "/"))
        return None

    def _document(self, *, for_view: bool) -> HttpResponse:
        try:
            document = json.loads(self.document_path.read_text())
        except FileNotFoundError:
            return HttpResponse.message(404, "docs/openapi.json is missing: run make openapi")
        document["servers"] = [{"url": self.url()}]
        if for_view:
            document = openapi_3_0_view(document)
        body = json.dumps(document, indent=2).encode()
        return HttpResponse(200, [("content-type", "application/json")], body)

    def _index(self) -> HttpResponse:
        if self.assets is None:
            return HttpResponse.message(
                404, "Swagger UI needs the swagger-ui-bundle package (pip install it)"
            )
        body = (_INDEX % VIEW_PATH).encode()
        return HttpResponse(200, [("content-type", _TYPES[".html"])], body)

    def _asset(self, name: str) -> HttpResponse:
        if self.assets is None or "/" in name or name.startswith(".") or name.endswith(".j2"):
            return HttpResponse.message(404, "Not Found")
        path = self.assets / name
        if not path.is_file():
            return HttpResponse.message(404, "Not Found")
        content_type = _TYPES.get(path.suffix, "application/octet-stream")
        return HttpResponse(
            200, [("content-type", content_type), ("cache-control", "max-age=3600")], path.read_bytes()
        )


def openapi_3_0_view(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (OpenAPI 3.1) as OpenAPI 3.0 tools read it, for display."""
    return {**_view(document), "openapi": "3.0.3"}


def _view(value: Any) -> Any:
    if isinstance(value, list):
        return [_view(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {
        key: _view(item)
        for key, item in value.items()
        if key not in ("propertyNames", "contentMediaType", "if", "then", "else")  # 3.1 only
    }
    _view_3_1_keywords(out)
    patterns = out.pop("patternProperties", None)
    if isinstance(patterns, dict) and len(patterns) == 1 and "additionalProperties" not in out:
        out["additionalProperties"] = next(iter(patterns.values()))
    kinds = out.get("type")
    if isinstance(kinds, list):
        others = [kind for kind in kinds if kind != "null"]
        out["type"] = others[0] if len(others) == 1 else others[0] if others else "string"
        if "null" in kinds:
            out["nullable"] = True
    for combinator in ("anyOf", "oneOf"):
        options = out.get(combinator)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [option for option in options if option != {"type": "null"}]
            del out[combinator]
            out.update(rest[0] if len(rest) == 1 and "$ref" not in rest[0] else {combinator: rest})
            out["nullable"] = True
    if out.get("not") == {"type": "null"}:  # "any value but null": 3.0 has no null type, and a schema
        del out["not"]  # without nullable already refuses null
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if isinstance(out.get("examples"), list) and "properties" not in out:
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    return out


def _view_3_1_keywords(out: dict[str, Any]) -> None:
    """Rewrite, in place, what 3.0 spells otherwise (exclusive bounds) or cannot say (if/then)."""
    conditions = out.get("allOf")
    if isinstance(conditions, list) and not any(conditions):  # only if/then: nothing 3.0 can show
        del out["allOf"]
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), int | float) and not isinstance(out.get(bound), bool):
            out[inclusive], out[bound] = out[bound], True  # 3.0 writes an exclusive bound as a flag
