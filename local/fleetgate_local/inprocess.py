"""Run the template's handlers inside this process: ``sam local invoke`` without Docker.

The integration tests and ``make bench`` use it against moto's in-process ``mock_aws``: each call gets
the environment the template gives that function and a Lambda-shaped context; each handler module is
imported once, as a warm execution environment would keep it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from botocore.client import BaseClient

from fleetgate_local.resources import Provisioned
from fleetgate_local.template import FunctionSpec, Template, function_environment
from fleetgate_local.worker import LambdaContext


class InProcessFunctions:
    def __init__(self, template: Template, provisioned: Provisioned) -> None:
        self.template = template
        self.provisioned = provisioned
        self._modules: dict[str, ModuleType] = {}
        self._active: str | None = None

    def invoke(self, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke ``logical_id``'s handler with ``event``; returns what the handler returns."""
        spec = self.template.function(logical_id)
        self._enter(spec)
        module = self._module(spec)
        handler = getattr(module, spec.handler.rsplit(".", 1)[1])
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:{spec.logical_id}"
        deadline_ms = int(time.time() * 1000) + spec.timeout * 1000
        result: dict[str, Any] = handler(event, LambdaContext(arn, str(uuid.uuid4()), deadline_ms))
        return result

    @contextmanager
    def environment_of(self, logical_id: str) -> Iterator[None]:
        """Run a block as code inside ``logical_id``'s execution environment (its variables, its layers,
        fresh caches on switching), e.g. to drive a use case or a dialect helper directly."""
        self._enter(self.template.function(logical_id))
        yield

    def _enter(self, spec: FunctionSpec) -> None:
        """Give the process the function's environment (once per switch between functions)."""
        if self._active == spec.logical_id:
            return
        for directory in [spec.code_uri, *spec.layer_dirs]:
            if str(directory) not in sys.path:
                sys.path.insert(0, str(directory))
        os.environ.update(function_environment(self.template, spec.logical_id, self.provisioned))
        os.environ.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
            }
        )
        # The core (a layer, importable only now) reads its settings once per environment: start afresh.
        from fleetgate.services import reset_caches  # noqa: PLC0415

        reset_caches()
        self._active = spec.logical_id

    def _module(self, spec: FunctionSpec) -> ModuleType:
        if spec.logical_id in self._modules:
            return self._modules[spec.logical_id]
        module_file = spec.code_uri / (spec.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
        loader_spec = importlib.util.spec_from_file_location(f"fn_{spec.logical_id}", module_file)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot load {module_file}")
        module = importlib.util.module_from_spec(loader_spec)
        loader_spec.loader.exec_module(module)
        self._modules[spec.logical_id] = module
        return module


def load_event(path: Path, **replacements: str) -> dict[str, Any]:
    """An event from ``events/``, with placeholder strings replaced everywhere they appear
    (e.g. ``A1_TEST_TOKEN`` by a real device token)."""
    text = path.read_text()
    for old, new in replacements.items():
        text = text.replace(old, new)
    event: dict[str, Any] = json.loads(text)
    return event


@contextmanager
def recorded_aws_calls() -> Iterator[list[AwsCall]]:
    """Record every AWS API call made by any botocore client while the block runs."""
    calls: list[AwsCall] = []
    original = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append(AwsCall(client.meta.service_model.service_name, operation, params))
        return original(client, operation, params)

    BaseClient._make_api_call = recording
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original


@dataclass(frozen=True)
class AwsCall:
    service: str
    operation: str
    params: dict[str, Any]
