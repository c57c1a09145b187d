"""Route selection as an HTTP API does it: ``{name}`` matches one segment, a final ``{name+}`` the
rest of the path; literal segments beat variables, variables beat a greedy variable, a method beats
``ANY``, and the ``$default`` route takes whatever nothing else matched."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from fleetgate_local.intrinsics import TemplateError
from fleetgate_local.template import DEFAULT_ROUTE, Route


@dataclass(frozen=True)
class RouteMatch:
    """A request's route, the function it runs and its decoded path parameters."""

    route: Route
    function_id: str
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    function_id: str
    segments: tuple[str, ...]
    greedy: str | None  # name of the final {name+} variable

    def match(self, segments: list[str]) -> dict[str, str] | None:
        fixed = len(self.segments)
        if len(segments) < fixed or (self.greedy is None and len(segments) != fixed):
            return None
        if self.greedy is not None and (len(segments) == fixed or not "".join(segments[fixed:])):
            return None
        parameters = {}
        for pattern, segment in zip(self.segments, segments, strict=False):
            if _is_variable(pattern):
                if not segment:
                    return None
                parameters[pattern[1:-1]] = unquote(segment)
            elif pattern != unquote(segment):
                return None
        if self.greedy is not None:
            parameters[self.greedy] = unquote("/".join(segments[fixed:]))
        return parameters

    def precedence(self) -> tuple[bool, tuple[bool, ...], bool]:
        """Sorts the most specific route first."""
        variables = tuple(_is_variable(segment) for segment in self.segments)
        return self.greedy is not None, variables, self.route.method == "ANY"


class RouteTable:
    """All routes of the template, ready to match requests."""

    def __init__(self, routes: Iterable[tuple[Route, str]]) -> None:
        self._routes: list[_CompiledRoute] = []
        self._default: tuple[Route, str] | None = None
        seen: dict[str, str] = {}
        for route, function_id in routes:
            if route.route_key in seen:
                owners = f"{seen[route.route_key]} and {function_id}"
                raise TemplateError(f"route {route.route_key} is declared by {owners}")
            seen[route.route_key] = function_id
            if route.path == DEFAULT_ROUTE:
                self._default = (route, function_id)
            else:
                self._routes.append(_compile(route, function_id))
        self._routes.sort(key=_CompiledRoute.precedence)

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        """The route a request takes, or None (API Gateway's 404)."""
        segments = raw_path.split("/")[1:]
        for candidate in self._routes:
            if candidate.route.method not in (method.upper(), "ANY"):
                continue
            parameters = candidate.match(segments)
            if parameters is not None:
                return RouteMatch(candidate.route, candidate.function_id, parameters)
        if self._default is not None:
            return RouteMatch(self._default[0], self._default[1], {})
        return None


def _compile(route: Route, function_id: str) -> _CompiledRoute:
    if not route.path.startswith("/"):
        raise TemplateError(f"{function_id} {route.event_name}: path {route.path!r} must start with /")
    segments = route.path.split("/")[1:]
    greedy = None
    if segments and segments[-1].startswith("{") and segments[-1].endswith("+}"):
        greedy = segments.pop()[1:-2]
    return _CompiledRoute(route, function_id, tuple(segments), greedy)


def _is_variable(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")
