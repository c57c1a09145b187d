"""The vocabulary of a route's contract: ``Operation`` (one route), its ``Parameter``s, its request
``Body`` and its ``Answer`` for every status it can give. Bodies point at pydantic models (``model``,
``envelope``, ``page``) or carry a plain JSON Schema; ``fleetgate.contracts.openapi`` turns them into
the document's components."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

JSON = "application/json"
REF = "#/components/schemas/{model}"

Schema = dict[str, Any]


def ref(model: type[BaseModel]) -> Schema:
    return {"$ref": REF.format(model=model.__name__)}


@dataclass(frozen=True)
class Body:
    """A body: its schema per media type, and the models the schemas refer to."""

    content: dict[str, Schema]
    models: tuple[type[BaseModel], ...] = ()

    def __or__(self, other: Body) -> Body:
        """Either body (same media types' schemas become ``anyOf``)."""
        content = dict(self.content)
        for media, schema in other.content.items():
            content[media] = {"anyOf": [content[media], schema]} if media in content else schema
        return Body(content, self.models + other.models)


def model(m: type[BaseModel], media: str = JSON) -> Body:
    return Body({media: ref(m)}, (m,))


def schema(s: Schema, media: str = JSON, models: tuple[type[BaseModel], ...] = ()) -> Body:
    return Body({media: s}, models)


def envelope(m: type[BaseModel] | None) -> Body:
    """The operator API's success body ``{"data": <m>}``."""
    data = ref(m) if m is not None else {}
    return Body(
        {JSON: {"type": "object", "required": ["data"], "properties": {"data": data}}},
        (m,) if m else (),
    )


def page(m: type[BaseModel]) -> Body:
    """One page of an operator listing: ``{"data": [<m>...], "count", "nextToken"?}``."""
    return Body(
        {
            JSON: {
                "type": "object",
                "required": ["data", "count"],
                "properties": {
                    "data": {"type": "array", "items": ref(m)},
                    "count": {"type": "integer", "minimum": 0},
                    "nextToken": {"type": "string", "description": "present when there is another page"},
                },
            }
        },
        (m,),
    )


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # "path", "query" or "header"
    schema: Schema
    description: str = ""
    required: bool = False

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "in": self.location}
        if self.description:
            out["description"] = self.description
        out["required"] = self.required or self.location == "path"
        out["schema"] = self.schema
        return out


def path(name: str, schema: Schema, description: str = "") -> Parameter:
    return Parameter(name, "path", schema, description, required=True)


def query(name: str, schema: Schema, description: str = "", *, required: bool = False) -> Parameter:
    return Parameter(name, "query", schema, description, required=required)


@dataclass(frozen=True)
class Answer:
    """One status a route can answer: ``body`` None means an empty body. A ``name``d answer is shared by
    many routes: the document keeps it once, in ``components/responses``."""

    status: int
    description: str
    body: Body | None = None
    headers: dict[str, Schema] = field(default_factory=dict)  # name -> {"description", "schema"}
    name: str = ""


def header(description: str, s: Schema | None = None, *, required: bool = False) -> Schema:
    out: Schema = {"description": description, "schema": s or {"type": "string"}}
    if required:
        out["required"] = True
    return out


@dataclass(frozen=True)
class Operation:
    method: str  # upper case, as in template.yaml
    path: str  # OpenAPI style: /api/v1/{token}/telemetry
    operation_id: str
    tag: str
    summary: str
    answers: tuple[Answer, ...]
    parameters: tuple[Parameter, ...] = ()
    request: Body | None = None
    request_required: bool = True
    security: tuple[dict[str, list[str]], ...] = ()  # () = open
    description: str = ""

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def answer(self, status: int) -> Answer | None:
        return next((a for a in self.answers if a.status == status), None)
