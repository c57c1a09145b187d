"""The whole local stack in one object: moto on loopback, the template's resources, a seeded
operator, and the HTTP gateway running the template's functions in warm worker processes.

    with LocalStack(Path(".")) as stack:
        requests.post(f"{stack.url}/manage/v1/auth", json={"name": stack.admin_name, ...})

``root`` is any directory holding a ``template.yaml``; port 0 picks a free port. MQTT devices connect to
``mqtt_url`` (``mqtt_port``; 0 picks a free one): Mosquitto behind the template's device authorizer, with
its topic rules run (``fleetgate_local.mqtt``). That URL is the template's ``XyteMqttUrl`` and
``ThingsProMqttUrl`` parameters (what registrations tell devices) unless ``parameter_overrides`` names
them: the port is bound before the template is read, so the value is known when the functions'
environment is made.
``max_workers`` caps
the function workers alive at once (all functions together) and ``idle_seconds`` is how long an idle
worker stays warm (``fleetgate_local.workers``).
"""

from __future__ import annotations

import logging
import secrets
import socket
import string
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from moto.server import ThreadedMotoServer

from fleetgate_local.apidocs import ApiDocs
from fleetgate_local.atomic_moto import make_dynamodb_atomic
from fleetgate_local.authorizers import JwtAuthorizer
from fleetgate_local.cfn_yaml import load_template_file
from fleetgate_local.gateway import Gateway, GatewayServer, serve
from fleetgate_local.intrinsics import TemplateError, as_text
from fleetgate_local.mqtt import LocalMqtt
from fleetgate_local.resources import Provisioned, aws_client, provision
from fleetgate_local.routing import RouteTable
from fleetgate_local.template import FunctionSpec, JwtAuthorizerSpec, Template, function_environment
from fleetgate_local.workers import (
    DEFAULT_IDLE_SECONDS,
    DEFAULT_MAX_WORKERS,
    WorkerConfig,
    WorkerManager,
    execution_environment,
)

DEFAULT_ADMIN_NAME = "admin"
DEFAULT_ADMIN_PASSWORD = "Fleetgate-local-1"  # noqa: S105 (a documented local default; meets the pool policy)
_LOOPBACK = "127.0.0.1"
MQTT_URL_PARAMETERS = ("XyteMqttUrl", "ThingsProMqttUrl")  # the MQTT endpoint registrations tell devices
_print_lock = threading.Lock()


class OperatorPasswordRejectedError(Exception):
    """The operator's password does not satisfy the user pool's password policy."""

    def __init__(self, policy: dict[str, Any]) -> None:
        super().__init__(f"the operator password does not meet the user pool's password policy {policy}")
        self.policy = policy


def _print(line: str) -> None:
    with _print_lock:
        print(line, flush=True)


class LocalStack:
    """moto + resources + operator + gateway, started and stopped together."""

    def __init__(
        self,
        root: Path,
        *,
        host: str = _LOOPBACK,
        port: int = 0,
        admin_name: str = DEFAULT_ADMIN_NAME,
        admin_password: str = DEFAULT_ADMIN_PASSWORD,
        parameter_overrides: dict[str, str] | None = None,
        log: Callable[[str], None] | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        mqtt_port: int = 0,
    ) -> None:
        self.root = Path(root)
        self.host = host
        self.port = port
        self.admin_name = admin_name
        self.admin_password = admin_password
        self.parameter_overrides = parameter_overrides or {}
        self.log = log or _print
        self.max_workers = max_workers
        self.idle_seconds = idle_seconds
        self.region = "us-east-1"
        self.url = ""
        self.moto_url = ""
        self.mqtt_port = mqtt_port
        self.mqtt_url = ""
        self.mqtt: LocalMqtt | None = None
        self.template: Template | None = None
        self.provisioned = Provisioned()
        self._moto: ThreadedMotoServer | None = None
        self._gateway: Gateway | None = None
        self._server: GatewayServer | None = None
        self._serving: threading.Thread | None = None

    def start(self) -> LocalStack:
        """Start everything; returns once the gateway is listening. Cleans up if a step fails."""
        listener: socket.socket | None = None
        try:
            listener = socket.create_server((self.host, self.mqtt_port))
            mqtt_url = f"mqtt://{self.host}:{listener.getsockname()[1]}"
            path = self.root / "template.yaml"
            document = load_template_file(path)
            parameters = template_parameters(document, self.parameter_overrides, mqtt_url)
            self.template = Template(document, path.resolve().parent, parameters)
            self.region = self.template.region
            self._start_moto()
            self.provisioned = provision(self.template, endpoint_url=self.moto_url, region=self.region)
            self._seed_operator()
            self.mqtt = LocalMqtt(
                self.template,
                self.provisioned,
                sqs=self.client("sqs"),
                log=self.log,
                host=self.host,
                port=self.mqtt_port,
                moto_url=self.moto_url,
                listener=listener,
            )
            listener = None  # the MQTT front's now
            data_plane = self.mqtt.prepare()
            self._gateway = self._build_gateway(self.template, data_plane)
            pools = self._gateway.functions
            self.mqtt.start(lambda function, event: pools[function].invoke(event))
            self._server = serve(self._gateway, self.host, self.port, self.log)
            self._serving = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
            self._serving.start()
        except BaseException:
            if listener is not None:
                listener.close()
            self.stop()
            raise
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self.mqtt_url = self.mqtt.url
        return self

    def stop(self) -> None:
        """Stop the gateway, the function workers and moto (safe to call more than once).

        Takes a few seconds at most, however many workers run and whatever they are doing: the
        listener closes, every worker is stopped at once (requests they were serving get a 500), then
        every open connection is cut.
        """
        if self.mqtt is not None:
            self.mqtt.stop()  # devices first: nothing new reaches the functions
            self.mqtt = None
        if self._serving is not None and self._server is not None:
            self._server.shutdown()  # returns once serve_forever has; requests in flight go on
            self._serving = None
        if self._server is not None:
            self._server.server_close()  # the listening socket only
        if self._gateway is not None:
            self._gateway.close()
            self._gateway = None
        if self._server is not None:
            self._server.close_connections()
            self._server = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        """A boto3 client for this stack's moto (for tests and tools)."""
        return aws_client(service, endpoint_url=self.moto_url, region=self.region)

    def worker_pids(self) -> list[int]:
        """Process ids of the function workers running now."""
        if self._gateway is None:
            return []
        return self._gateway.workers.pids()

    # ------------------------------------------------------------------ steps

    def _start_moto(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per moto request
        make_dynamodb_atomic()
        self._moto = ThreadedMotoServer(ip_address=_LOOPBACK, port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"

    def _seed_operator(self) -> None:
        """Create the operator, with a permanent password, in every user pool of the template."""
        cognito = self.client("cognito-idp")
        for pool_id in self.provisioned.of_type("AWS::Cognito::UserPool"):
            cognito.admin_create_user(UserPoolId=pool_id, Username=self.admin_name, MessageAction="SUPPRESS")
            try:
                cognito.admin_set_user_password(
                    UserPoolId=pool_id, Username=self.admin_name, Password=self.admin_password, Permanent=True
                )
            except cognito.exceptions.InvalidPasswordException:
                pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
                raise OperatorPasswordRejectedError(pool["Policies"]["PasswordPolicy"]) from None

    def _build_gateway(self, template: Template, data_plane: str) -> Gateway:
        functions = template.functions()
        workers = WorkerManager(max_workers=self.max_workers, idle_seconds=self.idle_seconds)
        pools = {
            spec.logical_id: workers.pool(
                self._worker_config(template, spec, data_plane), self.log, spec.reserved_concurrency
            )
            for spec in functions
        }
        routes = [(route, spec.logical_id) for spec in functions for route in spec.routes]
        authorizers = {
            (spec.api, spec.name): self._jwt_authorizer(template, spec) for spec in template.jwt_authorizers()
        }
        for route, function_id in routes:
            if route.authorizer is not None and (route.api, route.authorizer) not in authorizers:
                missing = f"{route.api} has no authorizer {route.authorizer}"
                raise TemplateError(f"{function_id} {route.event_name}: {missing}")
        api_ids = {
            route.api: self.provisioned.physical_ids.get(route.api) or _fake_api_id() for route, _ in routes
        }
        return Gateway(
            RouteTable(routes), authorizers, pools, api_ids, workers, ApiDocs(self.root, lambda: self.url)
        )

    def _jwt_authorizer(self, template: Template, spec: JwtAuthorizerSpec) -> JwtAuthorizer:
        issuer = template.resolve(spec.issuer, self.provisioned.physical_ids, self.provisioned.attributes)
        audience = template.resolve(spec.audience, self.provisioned.physical_ids, self.provisioned.attributes)
        return JwtAuthorizer(
            issuer=as_text(issuer),
            audience=[as_text(item) for item in (audience if isinstance(audience, list) else [audience])],
            identity_source=spec.identity_source,
            moto_url=self.moto_url,
        )

    def _worker_config(self, template: Template, spec: FunctionSpec, data_plane: str) -> WorkerConfig:
        function_name = self.provisioned.physical_ids[spec.logical_id]
        variables = function_environment(template, spec.logical_id, self.provisioned)
        environment = execution_environment(
            spec, variables, function_name=function_name, region=self.region, endpoint_url=self.moto_url
        )
        environment["AWS_ENDPOINT_URL_IOT_DATA_PLANE"] = data_plane  # iot-data Publish: the local MQTT
        return WorkerConfig(
            logical_id=spec.logical_id,
            handler=spec.handler,
            code_uri=spec.code_uri,
            timeout_s=spec.timeout,
            function_arn=self.provisioned.attributes[spec.logical_id]["Arn"],
            environment=environment,
        )


def template_parameters(document: dict[str, Any], overrides: dict[str, str], mqtt_url: str) -> dict[str, str]:
    """``overrides`` plus each of ``MQTT_URL_PARAMETERS`` (``XyteMqttUrl``, ``ThingsProMqttUrl``) = the
    local MQTT URL, when the template declares it and the caller did not set it."""
    declared = document.get("Parameters") or {}
    local = {name: mqtt_url for name in MQTT_URL_PARAMETERS if name in declared and name not in overrides}
    return {**overrides, **local}


def _fake_api_id() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))
