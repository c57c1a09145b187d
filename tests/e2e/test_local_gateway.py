"""The local gateway behaves like API Gateway in front of Lambda: JWT authorizers, 404/413/500, payload
2.0 events, one warm process per concurrent invocation with the template's environment, a cap on
live processes (503 when throttled), idle processes reaped, a quick and clean stop.

The first part runs against the project's template (the session ``stack``) and relies on no handler
but ``POST /manage/v1/auth``; the second part runs a small SAM template of its own, with handlers
written for the test, under ``tmp_path``.
"""

from __future__ import annotations

import http.client
import json
import os
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey
from moto.utilities.utils import load_resource

from fleetgate_local.__main__ import write_sam_env_vars
from fleetgate_local.stack import LocalStack

pytestmark = pytest.mark.e2e

TIMEOUT_S = 30
UNAUTHORIZED = {"message": "Unauthorized"}


# ====================================================================== the project's template


def issuer_of(stack: LocalStack, pool_logical_id: str = "OperatorUserPool") -> str:
    return f"https://cognito-idp.us-east-1.amazonaws.com/{stack.provisioned.physical_ids[pool_logical_id]}"


def claims_for(stack: LocalStack, **changes: Any) -> dict[str, Any]:
    """Claims of a Cognito ID token for the operator client, valid unless ``changes`` spoil them."""
    now = int(time.time())
    claims = {
        "iss": issuer_of(stack),
        "sub": "5f1d7c9e-0000-4000-8000-000000000001",
        "aud": stack.provisioned.physical_ids["OperatorUserPoolClient"],
        "token_use": "id",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "cognito:username": stack.admin_name,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def moto_signing_key() -> RSAKey:
    """The key moto signs every user pool's tokens with (its JWKS serves the public half)."""
    return RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))


def signed(claims: dict[str, Any], key: RSAKey | None = None) -> str:
    return jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, key or moto_signing_key())


def list_devices(stack: LocalStack, authorization: str | None) -> requests.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    return requests.get(f"{stack.url}/manage/v1/devices", headers=headers, timeout=TIMEOUT_S)


def test_a_manage_route_without_a_token_is_401(stack: LocalStack) -> None:
    response = list_devices(stack, None)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


@pytest.mark.parametrize(
    "authorization", ["garbage", "Bearer garbage", "Bearer a.b.c", "Bearer ", "Basic YWRtaW46eA=="]
)
def test_a_garbage_token_is_401(stack: LocalStack, authorization: str) -> None:
    response = list_devices(stack, authorization)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_a_well_formed_token_passes_the_authorizer_with_or_without_bearer(stack: LocalStack) -> None:
    # The control for the refusals below: the same claims, correctly signed, are let through.
    token = signed(claims_for(stack))
    assert list_devices(stack, f"Bearer {token}").status_code != 401
    assert list_devices(stack, token).status_code != 401


NOW = 2_000_000_000  # a placeholder instant: the spoiled times below are offsets from it


@pytest.mark.parametrize(
    "spoiled",
    [
        pytest.param({"aud": "another-app-client"}, id="another audience"),
        pytest.param({"aud": None, "client_id": "another-app-client"}, id="access token of another client"),
        pytest.param({"aud": None}, id="no audience at all"),
        pytest.param({"exp": NOW - 60}, id="expired"),
        pytest.param({"exp": None}, id="no expiry"),
        pytest.param({"nbf": NOW + 600}, id="not valid yet"),
        pytest.param({"iat": NOW + 600}, id="issued in the future"),
        pytest.param(
            {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"}, id="another issuer"
        ),
    ],
)
def test_a_token_with_spoiled_claims_is_401(stack: LocalStack, spoiled: dict[str, Any]) -> None:
    # times are relative to when the test runs (NOW stands for it), not to when the suite was collected
    now = int(time.time())
    claims = {
        k: now + (v - NOW) if isinstance(v, int) and k in ("exp", "nbf", "iat") else v
        for k, v in spoiled.items()
    }
    response = list_devices(stack, f"Bearer {signed(claims_for(stack, **claims))}")
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_token_signed_by_another_key_is_401(stack: LocalStack) -> None:
    forged = signed(claims_for(stack), RSAKey.generate_key(2048))
    response = list_devices(stack, f"Bearer {forged}")
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_a_real_token_of_another_app_client_is_401(stack: LocalStack) -> None:
    # Given a second app client of the operator pool, and the operator logged in through it
    cognito = stack.client("cognito-idp")
    pool_id = stack.provisioned.physical_ids["OperatorUserPool"]
    other = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="not-the-api", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    tokens = cognito.initiate_auth(
        ClientId=other,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": stack.admin_name, "PASSWORD": stack.admin_password},
    )["AuthenticationResult"]
    # Then neither its ID token nor its access token opens the operator API
    for token in (tokens["IdToken"], tokens["AccessToken"]):
        assert list_devices(stack, f"Bearer {token}").status_code == 401


def test_the_operator_token_from_the_auth_route_passes_the_authorizer(
    stack: LocalStack, operator: Any
) -> None:
    response = operator.get(f"{operator.base_url}/manage/v1/devices", timeout=TIMEOUT_S)
    assert response.status_code not in (401, 403)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("PATCH", "/manage/v1/auth"),
        ("GET", "/api/v1/x"),
        ("TRACE", "/manage/v1/devices"),  # http.server alone would answer an HTML 501
        ("PROPFIND", "/api/v1/thing-datas/shadow/reported"),
    ],
)
def test_an_unknown_route_is_404(stack: LocalStack, method: str, path: str) -> None:
    response = requests.request(method, f"{stack.url}{path}", timeout=TIMEOUT_S)
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


def test_a_body_over_10_mb_is_413(stack: LocalStack) -> None:
    response = requests.post(
        f"{stack.url}/api/v1/any-token/telemetry",
        data=b"x" * (10 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT_S,
    )
    assert (response.status_code, response.json()) == (413, {"message": "Request Entity Too Large"})


def test_the_template_resources_exist_in_moto(stack: LocalStack) -> None:
    ids = stack.provisioned.physical_ids
    dynamodb = stack.client("dynamodb")
    for table in ("DevicesTable", "ShadowsTable", "TelemetryTable"):
        assert dynamodb.describe_table(TableName=ids[table])["Table"]["TableStatus"] == "ACTIVE"
    s3 = stack.client("s3")
    assert s3.get_bucket_versioning(Bucket=ids["FilesBucket"])["Status"] == "Enabled"
    assert "Deny" in s3.get_bucket_policy(Bucket=ids["FilesBucket"])["Policy"]
    cognito = stack.client("cognito-idp")
    pool_id = ids["OperatorUserPool"]
    assert cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Name"] == "fleetgate-local-operators"
    assert cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=ids["OperatorUserPoolClient"])
    operator = cognito.admin_get_user(UserPoolId=pool_id, Username=stack.admin_name)
    assert operator["UserStatus"] == "CONFIRMED"
    assert stack.client("logs").describe_log_groups(logGroupNamePrefix=ids["HttpApiAccessLogs"])["logGroups"]


# ====================================================================== a template of the test's own

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting: {Type: String, Default: hello}
Globals:
  Function:
    Runtime: python3.13
    Handler: app.lambda_handler
    Timeout: 5
    MemorySize: 256
    Layers: [!Ref SharedLayer]
    Environment:
      Variables:
        SHARED: !Ref Greeting
        TABLE: !Ref NotesTable
        MARKER_DIR: "@MARKER_DIR@"
Resources:
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer/}
  NotesTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Pool:
    Type: AWS::Cognito::UserPool
  PoolClient:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Pool
      ExplicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH]
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Sub "https://cognito-idp.${AWS::Region}.amazonaws.com/${Pool}"
              audience: [!Ref PoolClient]
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Environment: {Variables: {ONLY_ECHO: "1"}}
      Events:
        Anything: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: ANY, Path: "/echo/{proxy+}"}}
        Secure:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: /secure, Auth: {Authorizer: Jwt}}
        Scoped:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: GET
            Path: /scoped
            Auth: {Authorizer: Jwt, AuthorizationScopes: [aws.cognito.signin.user.admin]}
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: other/
      Handler: main.handle
      Environment: {Variables: {ONLY_OTHER: "1"}}
      Events:
        Other: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /other}}
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Timeout: 3
      Events:
        Slow: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /slow}}
  ChattyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: chatty/
      Events:
        Chatty: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/chatty/{shape}"}}
  BrokenFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: broken/
      Events:
        Broken: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /broken}}
  HurriedFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: other/
      Handler: main.handle
      Timeout: 1
      Events:
        Hurried: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /hurried}}
  ReservedFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      ReservedConcurrentExecutions: 1
      Events:
        Reserved: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /reserved}}
  LongPollFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Timeout: 30
      Events:
        LongPoll: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /long-poll}}
"""

HANDLERS = {
    "layer/shared_helper.py": 'NAME = "from the layer"\n',
    "echo/app.py": """
        import json, os, sys
        from pathlib import Path

        import shared_helper


        def lambda_handler(event, context):
            marker = event["headers"].get("x-marker")
            if marker:
                Path(os.environ["MARKER_DIR"], marker).touch()
            seen = {
                "event": event,
                "env": dict(os.environ),
                "path": sys.path,
                "cwd": os.getcwd(),
                "layer": shared_helper.NAME,
                "pid": os.getpid(),
                "context": {
                    "function_name": context.function_name,
                    "function_version": context.function_version,
                    "invoked_function_arn": context.invoked_function_arn,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "log_group_name": context.log_group_name,
                    "aws_request_id": context.aws_request_id,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                },
            }
            headers = {"content-type": "application/json"}
            return {"statusCode": 200, "headers": headers, "body": json.dumps(seen)}
        """,
    "other/main.py": """
        import os


        def handle(event, context):
            return {name: os.environ.get(name) for name in ("ONLY_ECHO", "ONLY_OTHER", "SHARED")}
        """,
    "slow/app.py": """
        import os, time


        def lambda_handler(event, context):
            time.sleep(float(event["queryStringParameters"]["seconds"]))
            return {"pid": os.getpid()}
        """,
    "chatty/app.py": """
        import base64, os, sys


        def lambda_handler(event, context):
            shape = event["pathParameters"]["shape"]
            print("hello from stdout")
            print("hello from stderr", file=sys.stderr)
            sys.stdout.flush()
            sys.stdout.buffer.write(b"\\x00\\x00\\x00\\x0b{\\"result\\":1}\\n")  # looks like a protocol frame
            sys.stdout.buffer.flush()
            if shape == "raise":
                raise RuntimeError("boom for the test")
            if shape == "exit":
                os._exit(3)
            if shape == "cookies":
                return {"statusCode": 201, "cookies": ["a=1; Path=/", "b=2"], "body": "two cookies"}
            if shape == "binary":
                body = base64.b64encode(b"\\x00\\xff").decode()
                return {"statusCode": 200, "isBase64Encoded": True, "body": body}
            if shape == "malformed":
                return {"statusCode": "two hundred"}
            return {"statusCode": 200, "body": "ok"}
        """,
    "broken/app.py": """
        raise ImportError("broken on purpose")
        """,
}


def write_sam_project(root: Path) -> Path:
    markers = root / "markers"
    markers.mkdir(parents=True)
    (root / "template.yaml").write_text(TEMPLATE.replace("@MARKER_DIR@", str(markers)))
    for relative, source in HANDLERS.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())
    return markers


class Logs(list[str]):
    """The stack's log lines (handler output included)."""

    def of(self, function_id: str) -> list[str]:
        return [line for line in self if line.startswith(f"[{function_id}] ")]

    def of_once_holding(self, function_id: str, *wanted: str, within_s: float = 5) -> str:
        """The function's lines once every wanted text is among them (or the deadline passes): the
        worker's stdout and stderr are relayed by reader threads, so a line may land just after the
        answer."""
        deadline = time.monotonic() + within_s
        while not all(text in (printed := "\n".join(self.of(function_id))) for text in wanted):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return printed


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sam-project")
    write_sam_project(root)
    return root


@pytest.fixture(scope="module")
def logs() -> Logs:
    return Logs()


@pytest.fixture(scope="module")
def local(project: Path, logs: Logs) -> Iterator[LocalStack]:
    with LocalStack(project, log=logs.append) as running:
        yield running


def get(stack: LocalStack, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(f"{stack.url}{path}", timeout=TIMEOUT_S, **kwargs)


def echo(stack: LocalStack, path: str = "/echo/x", **kwargs: Any) -> dict[str, Any]:
    response = get(stack, path, **kwargs)
    assert response.status_code == 200, response.text
    seen: dict[str, Any] = response.json()
    return seen


def operator_tokens(stack: LocalStack) -> dict[str, str]:
    tokens: dict[str, str] = stack.client("cognito-idp").initiate_auth(
        ClientId=stack.provisioned.physical_ids["PoolClient"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": stack.admin_name, "PASSWORD": stack.admin_password},
    )["AuthenticationResult"]
    return tokens


def test_each_function_gets_exactly_its_template_environment(local: LocalStack) -> None:
    # When two functions report their environment
    echoed = echo(local)["env"]
    other = get(local, "/other").json()  # a plain dict result: API Gateway's JSON 200
    # Then each has its own variables and the Globals ones, resolved against the provisioned stack
    assert (echoed["ONLY_ECHO"], echoed.get("ONLY_OTHER"), echoed["SHARED"]) == ("1", None, "hello")
    assert other == {"ONLY_ECHO": None, "ONLY_OTHER": "1", "SHARED": "hello"}
    assert echoed["TABLE"] == local.provisioned.physical_ids["NotesTable"]
    # And Lambda's runtime variables, with moto as the AWS endpoint
    assert echoed["AWS_ENDPOINT_URL"] == local.moto_url
    assert echoed["AWS_LAMBDA_FUNCTION_NAME"] == local.provisioned.physical_ids["EchoFunction"]
    assert (echoed["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], echoed["AWS_LAMBDA_FUNCTION_TIMEOUT"]) == ("256", "5")
    assert (echoed["AWS_REGION"], echoed["AWS_DEFAULT_REGION"]) == ("us-east-1", "us-east-1")
    assert (echoed["AWS_ACCESS_KEY_ID"], echoed["AWS_SECRET_ACCESS_KEY"]) == ("testing", "testing")
    # And nothing else of the gateway's own environment
    assert "PYTEST_CURRENT_TEST" not in echoed


def test_a_function_imports_from_its_code_uri_and_layers_only(local: LocalStack, project: Path) -> None:
    seen = echo(local)
    assert seen["layer"] == "from the layer"
    assert seen["cwd"] == str(project / "echo")
    assert seen["path"][0] == str(project / "echo")
    assert str(project / "layer") in seen["path"]
    assert not any(Path(entry, "fleetgate_local").is_dir() for entry in seen["path"] if entry)


def test_the_handler_gets_a_lambda_context(local: LocalStack) -> None:
    context = echo(local)["context"]
    name = local.provisioned.physical_ids["EchoFunction"]
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == f"/aws/lambda/{name}"
    assert 0 < context["remaining_ms"] <= 5000
    assert context["aws_request_id"]


def test_the_event_is_api_gateways_payload_2_0(local: LocalStack) -> None:
    # Given a curl -d style request with repeated parameters and headers, cookies and a greedy path
    response = requests.post(
        f"{local.url}/echo/a%20b/c?x=1&x=2&y=%C3%A9",
        data=b'{"temperature":42}',
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "s=1; t=2", "X-Dup": "1"},
        timeout=TIMEOUT_S,
    )
    # When the function sees it
    event = response.json()["event"]
    # Then it has API Gateway's shape
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /echo/{proxy+}"
    assert event["rawPath"] == "/echo/a%20b/c"
    assert event["rawQueryString"] == "x=1&x=2&y=%C3%A9"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "é"}
    assert event["pathParameters"] == {"proxy": "a b/c"}
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["headers"]["x-dup"] == "1"
    assert "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is True
    assert event["body"] == "eyJ0ZW1wZXJhdHVyZSI6NDJ9"
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["apiId"] == local.provisioned.physical_ids["Api"]
    assert context["requestId"] == response.headers["apigw-requestid"]
    assert "authorizer" not in context


def test_a_jwt_route_passes_the_claims_as_strings(local: LocalStack) -> None:
    tokens = operator_tokens(local)
    id_event = echo(local, "/secure", headers={"Authorization": f"Bearer {tokens['IdToken']}"})["event"]
    claims = id_event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["cognito:username"] == local.admin_name
    assert claims["aud"] == local.provisioned.physical_ids["PoolClient"]
    assert all(isinstance(value, str) for value in claims.values())
    assert id_event["requestContext"]["authorizer"]["jwt"]["scopes"] is None
    access_event = echo(local, "/secure", headers={"Authorization": tokens["AccessToken"]})["event"]
    assert access_event["requestContext"]["authorizer"]["jwt"]["scopes"] == ["aws.cognito.signin.user.admin"]


def test_a_route_with_scopes_wants_one_of_them_in_the_token(local: LocalStack) -> None:
    tokens = operator_tokens(local)
    without_scope = get(local, "/scoped", headers={"Authorization": f"Bearer {tokens['IdToken']}"})
    assert (without_scope.status_code, without_scope.json()) == (403, {"message": "Forbidden"})
    assert 'error="insufficient_scope"' in without_scope.headers["www-authenticate"]
    with_scope = get(local, "/scoped", headers={"Authorization": f"Bearer {tokens['AccessToken']}"})
    assert with_scope.status_code == 200


def test_a_refused_token_never_reaches_the_function(local: LocalStack, project: Path) -> None:
    response = get(local, "/secure", headers={"Authorization": "Bearer nope", "X-Marker": "refused"})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert not (project / "markers" / "refused").exists()
    echo(
        local, "/secure", headers={"Authorization": operator_tokens(local)["IdToken"], "X-Marker": "accepted"}
    )
    assert (project / "markers" / "accepted").exists()


def test_what_a_handler_prints_goes_to_the_log_not_the_response(local: LocalStack, logs: Logs) -> None:
    response = get(local, "/chatty/plain")
    assert (response.status_code, response.text) == (200, "ok")
    stdout, stderr = "[ChattyFunction] hello from stdout", "[ChattyFunction] hello from stderr"
    printed = logs.of_once_holding("ChattyFunction", stdout, stderr).splitlines()
    assert stdout in printed
    assert stderr in printed


def test_responses_are_read_as_api_gateway_reads_them(local: LocalStack) -> None:
    cookies = get(local, "/chatty/cookies")
    assert (cookies.status_code, cookies.text) == (201, "two cookies")
    assert cookies.raw.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2"]
    assert get(local, "/chatty/binary").content == b"\x00\xff"
    malformed = get(local, "/chatty/malformed")
    assert (malformed.status_code, malformed.json()) == (500, {"message": "Internal Server Error"})


def test_a_raising_handler_is_a_500_with_the_traceback_in_the_log(local: LocalStack, logs: Logs) -> None:
    response = get(local, "/chatty/raise")
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    printed = logs.of_once_holding("ChattyFunction", "Traceback", "RuntimeError: boom for the test")
    assert "RuntimeError: boom for the test" in printed
    assert "Traceback" in printed
    assert get(local, "/chatty/plain").status_code == 200  # the environment stays usable


def test_a_handler_that_kills_its_process_is_a_500_and_the_next_request_gets_a_new_one(
    local: LocalStack,
) -> None:
    assert get(local, "/chatty/exit").status_code == 500
    assert get(local, "/chatty/plain").status_code == 200


def test_a_handler_that_fails_to_import_is_a_500(local: LocalStack, logs: Logs) -> None:
    response = get(local, "/broken")
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert any("ImportError: broken on purpose" in line for line in logs.of("BrokenFunction"))


def test_a_handler_over_its_timeout_is_a_500(local: LocalStack) -> None:
    started = time.monotonic()
    response = get(local, "/slow", params={"seconds": "10"})
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert time.monotonic() - started < 8  # Timeout: 3, not the handler's 10 s
    assert get(local, "/slow", params={"seconds": "0"}).status_code == 200


def test_concurrent_requests_to_a_slow_function_run_in_parallel(local: LocalStack) -> None:
    # Given four requests that each keep a function busy for 2 s
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: get(local, "/slow", params={"seconds": "2"}), range(4)))
    elapsed = time.monotonic() - started
    # Then they ran side by side, each in its own warm process (serially they would take 8 s)
    assert [response.status_code for response in responses] == [200] * 4
    assert len({response.json()["pid"] for response in responses}) == 4
    assert elapsed < 6


def test_the_request_log_names_the_route_never_the_raw_path(local: LocalStack, logs: Logs) -> None:
    get(local, "/echo/secret-device-token")
    request_lines = [line for line in logs if " GET /echo/" in line or " GET ANY /echo/" in line]
    assert request_lines
    assert all("secret-device-token" not in line for line in logs)
    assert any(
        "GET ANY /echo/{proxy+} 200" in line and line.endswith("EchoFunction") for line in request_lines
    )


def worker_children() -> list[int]:
    """Live (or unreaped) worker processes started by this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"fleetgate_local.worker" in command:
            found.append(int(entry.name))
    return found


def test_stop_leaves_no_child_process(project: Path) -> None:
    # Given a stack with warm workers, one of them busy
    stack = LocalStack(project, log=lambda line: None).start()
    busy_result: list[int] = []
    try:
        assert get(stack, "/other").status_code == 200
        assert get(stack, "/echo/x").status_code == 200
        busy = threading.Thread(
            target=lambda: busy_result.append(_status_or_zero(stack, "/slow", {"seconds": "2.5"})),
            daemon=True,
        )
        busy.start()
        deadline = time.monotonic() + 10
        while len(stack.worker_pids()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = stack.worker_pids()
        assert len(pids) == 3
    finally:
        # When it stops
        started = time.monotonic()
        stack.stop()
    # Then it stopped promptly, and no worker is left, not even as a zombie
    assert time.monotonic() - started < 5
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert set(worker_children()).isdisjoint(pids)
    busy.join(timeout=10)
    assert busy_result in ([500], [0])  # the busy request was cut off, as Lambda would


def _status_or_zero(stack: LocalStack, path: str, params: dict[str, str]) -> int:
    """The answer's status, or 0 when the connection was cut: before the answer (ConnectionError) or
    in its body (ChunkedEncodingError: the 500's body cut short by the stop)."""
    try:
        return get(stack, path, params=params).status_code
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
        return 0


def rss_kib(pid: int) -> int:
    """Resident memory of a process (0 once it is gone), from /proc/<pid>/status."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0  # a zombie has no VmRSS line


def test_a_request_throttled_at_the_cap_is_503_and_a_failing_one_stays_500(project: Path) -> None:
    # Given a stack allowed one worker, held for 3 s by a request that ends in a timeout
    stack = LocalStack(project, log=lambda line: None, max_workers=1).start()
    try:
        with ThreadPoolExecutor(max_workers=1) as executor:
            slow = executor.submit(get, stack, "/slow", params={"seconds": "10"})
            deadline = time.monotonic() + 5
            while not stack.worker_pids() and time.monotonic() < deadline:
                time.sleep(0.02)
            # When a function with a 1 s timeout is called meanwhile
            started = time.monotonic()
            throttled = get(stack, "/hurried")
            waited = time.monotonic() - started
            # Then it waited its timeout for a worker, then got API Gateway's throttle answer
            assert (throttled.status_code, throttled.json()) == (503, {"message": "Service Unavailable"})
            assert 0.9 <= waited < 3.5
            # And the function that failed still answers 500
            assert (slow.result().status_code, slow.result().json()) == (
                500,
                {"message": "Internal Server Error"},
            )
        # And once the worker is free the throttled function runs again
        assert get(stack, "/hurried").status_code == 200
    finally:
        stack.stop()


def test_a_reserved_concurrency_runs_its_function_one_request_at_a_time(local: LocalStack) -> None:
    # Given ReservedFunction with ReservedConcurrentExecutions: 1, and three requests at once
    with ThreadPoolExecutor(max_workers=3) as pool:
        responses = list(pool.map(lambda _: get(local, "/reserved", params={"seconds": "0.5"}), range(3)))
    # Then all were served by its one worker, one after another
    assert [response.status_code for response in responses] == [200] * 3
    assert len({response.json()["pid"] for response in responses}) == 1


def test_stop_takes_seconds_with_long_polls_in_flight_and_cuts_open_connections(project: Path) -> None:
    # Given 16 long-polls of 25 s in flight, an idle warm worker, and an idle keep-alive connection
    stack = LocalStack(project, log=lambda line: None).start()
    statuses: list[int] = []
    polls = [
        threading.Thread(
            target=lambda: statuses.append(_status_or_zero(stack, "/long-poll", {"seconds": "25"})),
            daemon=True,
        )
        for _ in range(16)
    ]
    try:
        host, port = stack.url.removeprefix("http://").split(":")
        keep_alive = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT_S)
        keep_alive.request("GET", "/other")
        assert keep_alive.getresponse().read()
        for poll in polls:
            poll.start()
        deadline = time.monotonic() + 30
        while len(stack.worker_pids()) < 17 and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = stack.worker_pids()
        assert len(pids) == 17
        time.sleep(0.5)  # the last ones finish their init and take their long-poll
    finally:
        # When it stops
        started = time.monotonic()
        stack.stop()
        elapsed = time.monotonic() - started
    # Then it took seconds, not the long-polls' 25, and no worker is left
    assert elapsed < 5, elapsed
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    # And every long-poll was answered 500 or cut off at once
    for poll in polls:
        poll.join(timeout=5)
    assert sorted(set(statuses)) in ([0], [500], [0, 500])
    assert len(statuses) == 16
    # And the idle keep-alive connection was closed by the server (end of stream, not a timeout)
    assert keep_alive.sock is not None
    keep_alive.sock.settimeout(3)
    assert keep_alive.sock.recv(1) == b""
    keep_alive.close()


def test_after_a_burst_worker_processes_and_memory_return_to_idle(project: Path) -> None:
    # Given a stack with a cap of 16 workers that reaps them after 2 s idle
    idle_seconds, cap = 2.0, 16
    stack = LocalStack(project, log=lambda line: None, max_workers=cap, idle_seconds=idle_seconds).start()
    peak_workers, peak_rss_kib, seen = 0, 0, set[int]()
    sampling = threading.Event()

    def sample() -> None:
        nonlocal peak_workers, peak_rss_kib
        while not sampling.is_set():
            pids = stack.worker_pids()
            seen.update(pids)
            peak_workers = max(peak_workers, len(pids))
            peak_rss_kib = max(peak_rss_kib, sum(rss_kib(pid) for pid in pids))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    paths = ["/echo/x", "/other", "/chatty/plain", "/slow?seconds=0.2", "/long-poll?seconds=0.5"]
    try:
        # When 300 requests over five functions come from 24 clients at once
        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = list(pool.map(lambda i: get(stack, paths[i % len(paths)]).status_code, range(300)))
        load_ended = time.monotonic()
        # Then they were served (on a starved CPU a few may wait out their timeout for a cold start and
        # be throttled, as documented), none failed, and there were never more workers than the cap
        assert set(statuses) <= {200, 503}
        assert statuses.count(200) >= 240, statuses.count(503)
        assert 5 <= peak_workers <= cap
        assert peak_rss_kib > 0
        # And within seconds of the idle timeout every worker is gone: processes and memory at idle
        while stack.worker_pids() and time.monotonic() - load_ended < idle_seconds + 10:
            time.sleep(0.1)
        back_to_idle_s = time.monotonic() - load_ended
        assert stack.worker_pids() == []
        assert not [pid for pid in seen if rss_kib(pid)]
        print(
            f"\n{statuses.count(200)} answered, {statuses.count(503)} throttled; "
            f"peak workers {peak_workers}, peak worker RSS {peak_rss_kib / 1024:.0f} MiB, "
            f"idle again {back_to_idle_s:.1f} s after the load (idle timeout {idle_seconds:.0f} s)"
        )
    finally:
        sampling.set()
        sampler.join()
        stack.stop()


def test_sam_env_vars_file_points_every_function_at_this_stacks_moto(
    stack: LocalStack, tmp_path: Path
) -> None:
    path = tmp_path / "env.json"

    write_sam_env_vars(stack, path)

    variables = json.loads(path.read_text())
    assert stack.template is not None
    assert stack.provisioned is not None
    assert set(variables) == {spec.logical_id for spec in stack.template.functions()}
    telemetry = variables["TbPostTelemetryFunction"]
    assert telemetry["AWS_ENDPOINT_URL"] == stack.moto_url
    assert telemetry["TELEMETRY_TABLE"] == stack.provisioned.physical_ids["TelemetryTable"]
