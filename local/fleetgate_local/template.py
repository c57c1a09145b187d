"""The SAM template as the local stack sees it: parameters, conditions, Globals, functions and routes.

``template.yaml`` is the source of truth: nothing here keeps a second list of resources, routes or
environment variables. Intrinsic functions are evaluated by ``fleetgate_local.intrinsics``; resources
the template declares are created by ``fleetgate_local.resources``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleetgate_local.cfn_yaml import load_template_file
from fleetgate_local.intrinsics import (
    NO_VALUE,
    Scope,
    TemplateError,
    as_text,
    condition_value,
    is_intrinsic,
    resolve,
)

if TYPE_CHECKING:
    from fleetgate_local.resources import Provisioned

__all__ = [
    "FunctionSpec",
    "JwtAuthorizerSpec",
    "Route",
    "Template",
    "TemplateError",
    "function_environment",
]

DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "fleetgate-local"
IMPLICIT_HTTP_API = "ServerlessHttpApi"  # the API SAM creates for HttpApi events without an ApiId
DEFAULT_ROUTE = "$default"  # an HttpApi event with neither Path nor Method

_SAM_FUNCTION = "AWS::Serverless::Function"
_SAM_HTTP_API = "AWS::Serverless::HttpApi"
_SAM_LAYER = "AWS::Serverless::LayerVersion"
_GLOBALS_SECTION = {_SAM_FUNCTION: "Function", _SAM_HTTP_API: "HttpApi"}
_DEFAULT_IDENTITY = "$request.header.Authorization"
_LAMBDA_DEFAULT_TIMEOUT_S = 3
_LAMBDA_DEFAULT_MEMORY_MB = 128


@dataclass(frozen=True)
class Route:
    """One ``HttpApi`` event of a function: ``method`` is upper case (``ANY`` included)."""

    method: str
    path: str  # "/api/v1/{token}/telemetry", or "$default"
    authorizer: str | None  # the authorizer's name on its API; None when the route is open
    event_name: str
    api: str = IMPLICIT_HTTP_API  # logical id of the HttpApi the route belongs to
    scopes: tuple[str, ...] = ()  # Auth.AuthorizationScopes: the token needs one of them

    @property
    def route_key(self) -> str:
        """API Gateway's route key: ``"POST /api/v1/{token}/telemetry"`` or ``"$default"``."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


@dataclass(frozen=True)
class FunctionSpec:
    """An ``AWS::Serverless::Function`` after Globals are merged (environment left unresolved)."""

    logical_id: str
    code_uri: Path
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: dict[str, Any]
    layer_dirs: list[Path]
    routes: list[Route] = field(default_factory=list)
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions: the function's own cap


@dataclass(frozen=True)
class JwtAuthorizerSpec:
    """A JWT authorizer of an HttpApi; ``issuer`` and ``audience`` still hold intrinsic functions."""

    api: str
    name: str
    identity_source: str
    issuer: Any
    audience: Any


class Template:
    """A loaded SAM template with its parameter values fixed."""

    def __init__(
        self,
        document: dict[str, Any],
        root: Path,
        parameter_overrides: Mapping[str, str] | None = None,
        *,
        region: str = DEFAULT_REGION,
        stack_name: str = STACK_NAME,
    ) -> None:
        self.document = document
        self.root = root
        self.region = region
        self.account_id = ACCOUNT_ID
        self.stack_name = stack_name
        self.parameters = _parameter_values(document.get("Parameters") or {}, parameter_overrides or {})
        self._pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{stack_name}/local",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
            "AWS::NotificationARNs": [],
        }
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()
        self._resources = self._live_resources()

    @classmethod
    def load(cls, path: Path, parameter_overrides: dict[str, str] | None = None) -> Template:
        """Read ``path``; CodeUri and ContentUri are relative to the template's directory."""
        return cls(load_template_file(path), path.resolve().parent, parameter_overrides)

    # ------------------------------------------------------------------ evaluation

    def resolve(
        self,
        value: Any,
        physical_ids: Mapping[str, str],
        attributes: Mapping[str, Mapping[str, str]],
    ) -> Any:
        """Evaluate the intrinsic functions in ``value`` against provisioned resources."""
        return resolve(value, self._scope(physical_ids, attributes))

    def condition(self, name: str) -> bool:
        """The value of a condition of the ``Conditions`` section."""
        if name not in self._conditions:
            definitions = self.document.get("Conditions") or {}
            if name not in definitions:
                raise TemplateError(f"condition {name} is not defined in Conditions")
            if name in self._evaluating:
                raise TemplateError(f"condition {name} refers to itself")
            self._evaluating.add(name)
            try:
                self._conditions[name] = condition_value(definitions[name], self._scope({}, {}))
            finally:
                self._evaluating.discard(name)
        return self._conditions[name]

    def _scope(self, physical_ids: Mapping[str, str], attributes: Mapping[str, Mapping[str, str]]) -> Scope:
        return Scope(
            values={**self._pseudo, **self.parameters},
            mappings=self.document.get("Mappings") or {},
            condition=self.condition,
            physical_ids=physical_ids,
            attributes=attributes,
        )

    def _static(self, value: Any) -> Any:
        """Resolve a value that may only use parameters, pseudo parameters and conditions."""
        return self.resolve(value, {}, {})

    # ------------------------------------------------------------------ resources

    def resources(self) -> dict[str, dict[str, Any]]:
        """Resources whose ``Condition`` holds, SAM Globals merged into their properties."""
        return self._resources

    def _live_resources(self) -> dict[str, dict[str, Any]]:
        live: dict[str, dict[str, Any]] = {}
        for logical_id, resource in (self.document.get("Resources") or {}).items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            section = _GLOBALS_SECTION.get(resource.get("Type", ""), "")
            global_properties: dict[str, Any] = (self.document.get("Globals") or {}).get(section) or {}
            properties = _merge_globals(global_properties, resource.get("Properties") or {})
            live[logical_id] = {**resource, "Properties": properties}
        return live

    def functions(self) -> list[FunctionSpec]:
        """Every ``AWS::Serverless::Function``, in template order."""
        return [
            self._function_spec(logical_id, resource["Properties"])
            for logical_id, resource in self._resources.items()
            if resource["Type"] == _SAM_FUNCTION
        ]

    def function(self, logical_id: str) -> FunctionSpec:
        """One function by logical id."""
        resource = self._resources.get(logical_id)
        if resource is None or resource["Type"] != _SAM_FUNCTION:
            raise TemplateError(f"{logical_id} is not an AWS::Serverless::Function of the template")
        return self._function_spec(logical_id, resource["Properties"])

    def _function_spec(self, logical_id: str, properties: dict[str, Any]) -> FunctionSpec:
        code_uri = self._static(properties.get("CodeUri"))
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: only a local directory CodeUri can run locally")
        environment = (properties.get("Environment") or {}).get("Variables") or {}
        reserved = self._static(properties.get("ReservedConcurrentExecutions"))
        return FunctionSpec(
            logical_id=logical_id,
            code_uri=self.root / code_uri,
            handler=as_text(self._static(properties.get("Handler", ""))),
            runtime=as_text(self._static(properties.get("Runtime", ""))),
            timeout=int(as_text(self._static(properties.get("Timeout", _LAMBDA_DEFAULT_TIMEOUT_S)))),
            memory_size=int(as_text(self._static(properties.get("MemorySize", _LAMBDA_DEFAULT_MEMORY_MB)))),
            environment=dict(environment),
            layer_dirs=self._layer_dirs(properties.get("Layers") or []),
            routes=self._routes(logical_id, properties.get("Events") or {}),
            reserved_concurrency=None if reserved in (None, NO_VALUE) else int(as_text(reserved)),
        )

    def _layer_dirs(self, layers: list[Any]) -> list[Path]:
        """Local directories of the function's layers; layers given as external ARNs have none."""
        layer_ids = {
            logical_id: logical_id
            for logical_id, resource in self._resources.items()
            if resource["Type"] == _SAM_LAYER
        }
        directories = []
        for layer in self.resolve(layers, layer_ids, {}):
            if layer not in layer_ids:
                continue  # a published layer's ARN: nothing local to add
            content_uri = self._resources[layer]["Properties"].get("ContentUri")
            if isinstance(content_uri, str):
                directories.append(self.root / content_uri)
        return directories

    # ------------------------------------------------------------------ HTTP API

    def _routes(self, logical_id: str, events: dict[str, Any]) -> list[Route]:
        routes = []
        for event_name, event in events.items():
            if event.get("Type") != "HttpApi":
                continue
            properties = event.get("Properties") or {}
            api = _referenced_api(logical_id, properties.get("ApiId"))
            method, path = properties.get("Method"), properties.get("Path")
            auth = properties.get("Auth") or {}
            authorizer, scopes = self._route_auth(f"{logical_id} {event_name}", api, auth)
            routes.append(
                Route(
                    method="ANY" if method is None else as_text(method).upper(),
                    path=DEFAULT_ROUTE if path is None and method is None else as_text(path),
                    authorizer=authorizer,
                    event_name=event_name,
                    api=api,
                    scopes=scopes,
                )
            )
        return routes

    def _route_auth(self, event: str, api: str, auth: dict[str, Any]) -> tuple[str | None, tuple[str, ...]]:
        """SAM's rules: a route without ``Auth.Authorizer`` takes its API's ``DefaultAuthorizer``;
        ``NONE`` opens a route and is only valid when there is a default; the route's
        ``AuthorizationScopes`` win over its authorizer's."""
        api_auth = self._http_api_auth(api)
        default = api_auth.get("DefaultAuthorizer")
        authorizer = auth.get("Authorizer") or default
        if authorizer == "NONE" and not default:
            raise TemplateError(f"{event}: Authorizer NONE is only valid when {api} has a DefaultAuthorizer")
        if authorizer in (None, "NONE"):
            return None, ()
        name = as_text(authorizer)
        definition = (api_auth.get("Authorizers") or {}).get(name) or {}
        return name, tuple(auth.get("AuthorizationScopes") or definition.get("AuthorizationScopes") or ())

    def _http_api_auth(self, api: str) -> dict[str, Any]:
        if api == IMPLICIT_HTTP_API:
            properties = (self.document.get("Globals") or {}).get("HttpApi") or {}
        else:
            resource = self._resources.get(api)
            if resource is None or resource["Type"] != _SAM_HTTP_API:
                raise TemplateError(f"{api} is not an AWS::Serverless::HttpApi of the template")
            properties = resource["Properties"]
        auth: dict[str, Any] = properties.get("Auth") or {}
        return auth

    def jwt_authorizers(self) -> list[JwtAuthorizerSpec]:
        """The JWT authorizers of every HttpApi that has routes; other authorizer kinds are an error."""
        apis = {route.api for function in self.functions() for route in function.routes}
        specs = []
        for api in sorted(apis):
            for name, authorizer in (self._http_api_auth(api).get("Authorizers") or {}).items():
                jwt = authorizer.get("JwtConfiguration")
                if jwt is None:
                    raise TemplateError(f"{api} authorizer {name}: only JWT authorizers run locally")
                specs.append(
                    JwtAuthorizerSpec(
                        api=api,
                        name=name,
                        identity_source=as_text(authorizer.get("IdentitySource", _DEFAULT_IDENTITY)),
                        issuer=jwt.get("issuer"),
                        audience=jwt.get("audience") or [],
                    )
                )
        return specs


def function_environment(template: Template, logical_id: str, provisioned: Provisioned) -> dict[str, str]:
    """The resolved ``Environment.Variables`` the template gives a function (Globals merged)."""
    variables = template.resolve(
        template.function(logical_id).environment, provisioned.physical_ids, provisioned.attributes
    )
    return {name: as_text(value) for name, value in variables.items()}


def _referenced_api(logical_id: str, api_id: Any) -> str:
    if api_id is None:
        return IMPLICIT_HTTP_API
    if isinstance(api_id, dict) and isinstance(api_id.get("Ref"), str):
        return str(api_id["Ref"])
    raise TemplateError(f"{logical_id}: an HttpApi event's ApiId must be a !Ref to an HttpApi")


def _merge_globals(global_properties: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """SAM's Globals rules: maps merge (the resource wins), lists add up (Globals first), scalars are
    replaced; an intrinsic function counts as a scalar."""
    merged = dict(global_properties)
    for key, value in own.items():
        base = merged.get(key)
        if (
            isinstance(base, dict)
            and isinstance(value, dict)
            and not (is_intrinsic(base) or is_intrinsic(value))
        ):
            merged[key] = _merge_globals(base, value)
        elif isinstance(base, list) and isinstance(value, list):
            merged[key] = base + value
        else:
            merged[key] = value
    return merged


def _parameter_values(declarations: dict[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    unknown = set(overrides) - set(declarations)
    if unknown:
        raise TemplateError(f"parameter overrides for undeclared parameters: {sorted(unknown)}")
    values = {}
    for name, declaration in declarations.items():
        if name in overrides:
            raw = overrides[name]
        elif "Default" in declaration:
            raw = declaration["Default"]
        else:
            raise TemplateError(f"parameter {name} has no Default: give it a value (--param {name}=...)")
        values[name] = _typed_parameter(name, declaration, as_text(raw))
    return values


def _typed_parameter(name: str, declaration: dict[str, Any], text: str) -> Any:
    """A parameter's value as Ref returns it: numbers as numbers, lists as lists, the rest as text."""
    kind = str(declaration.get("Type", "String"))
    is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
    items = [item.strip() for item in text.split(",")] if is_list else [text]
    allowed = [as_text(value) for value in declaration.get("AllowedValues") or []]
    for item in items:
        if allowed and item not in allowed:
            raise TemplateError(f"parameter {name}={item!r} is not one of {allowed}")
    if is_list:
        return items
    if kind == "Number":
        number = _number(name, text)
        low, high = declaration.get("MinValue"), declaration.get("MaxValue")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            raise TemplateError(f"parameter {name}={text} is outside [{low}, {high}]")
        return number
    return text


def _number(name: str, text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise TemplateError(f"parameter {name}={text!r} is not a number") from None
