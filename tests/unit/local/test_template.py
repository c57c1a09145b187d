"""The local stack's reading of SAM templates: intrinsic functions, conditions, Globals, functions and
routes, and resources created in moto from the template itself."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fleetgate_local.cfn_yaml import load_template_file
from fleetgate_local.resources import provision
from fleetgate_local.routing import RouteTable
from fleetgate_local.template import Route, Template, TemplateError, function_environment

REPOSITORY = Path(__file__).resolve().parents[3]
PHYSICAL_IDS = {"Table": "stack-Table-ABC", "Bucket": "stack-bucket-abc"}
ATTRIBUTES = {"Table": {"Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/stack-Table-ABC"}}


def load(tmp_path: Path, text: str, overrides: dict[str, str] | None = None) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text))
    return Template.load(path, overrides)


@pytest.fixture
def template(tmp_path: Path) -> Template:
    return load(
        tmp_path,
        """
        Parameters:
          Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
          Retention: {Type: Number, Default: 90}
          Zones: {Type: CommaDelimitedList, Default: "a, b,c"}
        Mappings:
          Sizes: {dev: {Memory: 128}, prod: {Memory: 1024}}
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
          IsDev: !Not [!Condition IsProd]
          Always: !Or [!Condition IsProd, !Condition IsDev]
          Never: !And [!Condition IsProd, !Condition IsDev]
        Resources:
          Table: {Type: AWS::DynamoDB::Table}
          Bucket: {Type: AWS::S3::Bucket}
          ProdOnly: {Type: AWS::SQS::Queue, Condition: IsProd}
        """,
    )


# ---------------------------------------------------------------------- YAML short forms


def test_short_tags_load_as_their_long_forms(tmp_path: Path) -> None:
    # Given a template written with CloudFormation's short tags
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            A: !Ref Stage
            B: !GetAtt Table.StreamArn
            C: !Sub ["${X}-${AWS::Region}", {X: !Ref Stage}]
            D: !If [IsProd, !Join [",", [a, b]], !Ref AWS::NoValue]
            E: !Not [!Condition IsProd]
            """
        )
    )
    # When it is loaded
    document = load_template_file(tmp_path / "template.yaml")
    # Then every tag is the JSON form CloudFormation documents
    assert document["A"] == {"Ref": "Stage"}
    assert document["B"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert document["C"] == {"Fn::Sub": ["${X}-${AWS::Region}", {"X": {"Ref": "Stage"}}]}
    assert document["D"] == {"Fn::If": ["IsProd", {"Fn::Join": [",", ["a", "b"]]}, {"Ref": "AWS::NoValue"}]}
    assert document["E"] == {"Fn::Not": [{"Condition": "IsProd"}]}


# ---------------------------------------------------------------------- intrinsic functions


def resolve(template: Template, value: Any) -> Any:
    return template.resolve(value, PHYSICAL_IDS, ATTRIBUTES)


def test_ref_returns_parameters_typed_pseudo_parameters_and_physical_ids(template: Template) -> None:
    assert resolve(template, {"Ref": "Stage"}) == "dev"
    assert resolve(template, {"Ref": "Retention"}) == 90
    assert resolve(template, {"Ref": "Zones"}) == ["a", "b", "c"]
    assert resolve(template, {"Ref": "AWS::Region"}) == "us-east-1"
    assert resolve(template, {"Ref": "AWS::AccountId"}) == "123456789012"
    assert resolve(template, {"Ref": "AWS::StackName"}) == "fleetgate-local"
    assert resolve(template, {"Ref": "AWS::Partition"}) == "aws"
    assert resolve(template, {"Ref": "AWS::URLSuffix"}) == "amazonaws.com"
    assert resolve(template, {"Ref": "Table"}) == "stack-Table-ABC"


def test_ref_to_an_unknown_name_is_an_error(template: Template) -> None:
    with pytest.raises(TemplateError, match="Missing"):
        resolve(template, {"Ref": "Missing"})


def test_parameter_overrides_are_typed_and_checked(tmp_path: Path) -> None:
    text = """
        Parameters:
          Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
          Days: {Type: Number, Default: 90, MinValue: 1, MaxValue: 3650}
        """
    assert load(tmp_path, text, {"Stage": "prod", "Days": "7"}).parameters == {"Stage": "prod", "Days": 7}
    with pytest.raises(TemplateError, match="not one of"):
        load(tmp_path, text, {"Stage": "qa"})
    with pytest.raises(TemplateError, match="outside"):
        load(tmp_path, text, {"Days": "0"})
    with pytest.raises(TemplateError, match="undeclared"):
        load(tmp_path, text, {"Unknown": "1"})


def test_sub_replaces_names_attributes_and_keeps_escaped_literals(template: Template) -> None:
    assert (
        resolve(template, {"Fn::Sub": "${AWS::StackName}-${Stage}-${Table}"})
        == "fleetgate-local-dev-stack-Table-ABC"
    )
    assert resolve(template, {"Fn::Sub": "${Table.Arn}/index/*"}) == ATTRIBUTES["Table"]["Arn"] + "/index/*"
    assert resolve(template, {"Fn::Sub": "days=${Retention}"}) == "days=90"
    assert resolve(template, {"Fn::Sub": "${!Literal}-${Stage}"}) == "${Literal}-dev"


def test_sub_list_form_uses_its_own_variables_first(template: Template) -> None:
    value = {"Fn::Sub": ["${Name}.${Stage}", {"Name": {"Ref": "Bucket"}, "Stage": "override"}]}
    assert resolve(template, value) == "stack-bucket-abc.override"


def test_get_att_in_both_forms(template: Template) -> None:
    assert resolve(template, {"Fn::GetAtt": ["Table", "Arn"]}) == ATTRIBUTES["Table"]["Arn"]
    with pytest.raises(TemplateError, match=r"Table\.StreamArn"):
        resolve(template, {"Fn::GetAtt": ["Table", "StreamArn"]})


def test_conditions_and_if(template: Template, tmp_path: Path) -> None:
    assert template.condition("IsProd") is False
    assert template.condition("IsDev") is True
    assert template.condition("Always") is True
    assert template.condition("Never") is False
    assert resolve(template, {"Fn::If": ["IsProd", "big", "small"]}) == "small"
    prod = Template(template.document, tmp_path, {"Stage": "prod"})
    assert prod.resolve({"Fn::If": ["IsProd", "big", "small"]}, {}, {}) == "big"


def test_resources_whose_condition_is_false_do_not_exist(template: Template, tmp_path: Path) -> None:
    assert "ProdOnly" not in template.resources()
    assert "ProdOnly" in Template(template.document, tmp_path, {"Stage": "prod"}).resources()


def test_no_value_removes_the_property_or_list_item(template: Template) -> None:
    value = {
        "Keep": 1,
        "Drop": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Ref": "AWS::NoValue"}],
    }
    assert resolve(template, value) == {"Keep": 1, "List": ["a"]}


def test_join_select_split_and_find_in_map(template: Template) -> None:
    assert resolve(template, {"Fn::Join": ["-", ["a", {"Ref": "Stage"}, {"Ref": "Retention"}]]}) == "a-dev-90"
    assert resolve(template, {"Fn::Join": ["+", {"Ref": "Zones"}]}) == "a+b+c"
    assert resolve(template, {"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}) == "y"
    assert resolve(template, {"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}) == 128


def test_functions_the_local_stack_cannot_evaluate_are_named(template: Template) -> None:
    with pytest.raises(TemplateError, match="Fn::ImportValue"):
        resolve(template, {"Fn::ImportValue": "shared-vpc"})


# ---------------------------------------------------------------------- Globals, functions


GLOBALS_TEMPLATE = """
    Globals:
      Function:
        Runtime: python3.13
        Handler: app.lambda_handler
        Timeout: 10
        MemorySize: 256
        Layers: [!Ref CoreLayer]
        Environment:
          Variables: {SHARED: global, OVERRIDDEN: global, TABLE: !Ref Table}
    Resources:
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          BillingMode: PAY_PER_REQUEST
          AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
          KeySchema: [{AttributeName: pk, KeyType: HASH}]
      CoreLayer:
        Type: AWS::Serverless::LayerVersion
        Properties: {ContentUri: layers/core/}
      ExtraLayer:
        Type: AWS::Serverless::LayerVersion
        Properties: {ContentUri: layers/extra/}
      OneFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/one/
          MemorySize: 512
          Layers: [!Ref ExtraLayer, arn:aws:lambda:us-east-1:123456789012:layer:published:3]
          Environment:
            Variables: {OVERRIDDEN: own, ONLY_ONE: "1"}
      TwoFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/two/
          Handler: main.handle
    """


def test_globals_merge_into_each_function(tmp_path: Path) -> None:
    # Given functions that override some Globals and add to others
    template = load(tmp_path, GLOBALS_TEMPLATE)
    # When their specs are read
    one, two = template.functions()
    # Then maps merge with the function winning, lists add up (Globals first), scalars are replaced
    assert one.environment == {
        "SHARED": "global",
        "OVERRIDDEN": "own",
        "TABLE": {"Ref": "Table"},
        "ONLY_ONE": "1",
    }
    assert one.layer_dirs == [tmp_path / "layers/core", tmp_path / "layers/extra"]  # the ARN has no directory
    assert (one.memory_size, one.timeout, one.runtime, one.handler) == (
        512,
        10,
        "python3.13",
        "app.lambda_handler",
    )
    assert one.code_uri == tmp_path / "functions/one"
    assert two.handler == "main.handle"
    assert two.memory_size == 256
    assert two.environment == {"SHARED": "global", "OVERRIDDEN": "global", "TABLE": {"Ref": "Table"}}


def test_function_environment_resolves_against_provisioned_resources(tmp_path: Path) -> None:
    template = load(tmp_path, GLOBALS_TEMPLATE)
    with mock_aws():
        provisioned = provision(template, endpoint_url=None)
        environment = function_environment(template, "OneFunction", provisioned)
    assert environment["TABLE"] == provisioned.physical_ids["Table"]
    assert environment["TABLE"].startswith("fleetgate-local-Table-")
    assert environment["OVERRIDDEN"] == "own"


# ---------------------------------------------------------------------- HttpApi authorization

AUTH_TEMPLATE = """
    Globals:
      HttpApi:
        Auth:
          DefaultAuthorizer: Implicit
          Authorizers:
            Implicit: {JwtConfiguration: {issuer: https://issuer.example}, AuthorizationScopes: [read]}
    Resources:
      Api:
        Type: AWS::Serverless::HttpApi
        Properties:
          Auth:
            DefaultAuthorizer: Jwt
            Authorizers:
              Jwt: {JwtConfiguration: {issuer: https://issuer.example, audience: [app]}}
              Other: {JwtConfiguration: {issuer: https://other.example}}
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/fn/
          Events:
            Default: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /default}}
            Open:
              Type: HttpApi
              Properties: {ApiId: !Ref Api, Method: POST, Path: /open, Auth: {Authorizer: NONE}}
            Named:
              Type: HttpApi
              Properties:
                ApiId: !Ref Api
                Method: PUT
                Path: /named
                Auth: {Authorizer: Other, AuthorizationScopes: [admin]}
            ImplicitDefault: {Type: HttpApi, Properties: {Method: GET, Path: /implicit}}
            ImplicitScoped:
              Type: HttpApi
              Properties: {Method: GET, Path: /scoped, Auth: {AuthorizationScopes: [write]}}
            ImplicitOpen: {Type: HttpApi, Properties: {Method: GET, Path: /public, Auth: {Authorizer: NONE}}}
    """


def test_routes_take_their_apis_default_authorizer_unless_they_name_one_or_none(tmp_path: Path) -> None:
    # Given an explicit API and the implicit one (Globals.HttpApi), each with a DefaultAuthorizer
    template = load(tmp_path, AUTH_TEMPLATE)
    # When the function's routes are read
    (function,) = template.functions()
    routes = {route.event_name: (route.api, route.authorizer, route.scopes) for route in function.routes}
    # Then a route without Auth is behind its API's default, NONE opens it, a named authorizer wins,
    # and scopes come from the route, else from the authorizer's definition
    assert routes == {
        "Default": ("Api", "Jwt", ()),
        "Open": ("Api", None, ()),
        "Named": ("Api", "Other", ("admin",)),
        "ImplicitDefault": ("ServerlessHttpApi", "Implicit", ("read",)),
        "ImplicitScoped": ("ServerlessHttpApi", "Implicit", ("write",)),
        "ImplicitOpen": ("ServerlessHttpApi", None, ()),
    }
    # and Globals.HttpApi reaches every API, the explicit one included (its own Auth keys win)
    specs = {(spec.api, spec.name): spec.audience for spec in template.jwt_authorizers()}
    assert specs == {
        ("Api", "Jwt"): ["app"],
        ("Api", "Other"): [],
        ("Api", "Implicit"): [],
        ("ServerlessHttpApi", "Implicit"): [],
    }


def test_authorizer_none_without_a_default_authorizer_is_an_error(tmp_path: Path) -> None:
    # SAM refuses it too: NONE only opts a route out of a default
    template = load(
        tmp_path,
        """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: functions/fn/
              Events:
                Open: {Type: HttpApi, Properties: {Method: GET, Path: /open, Auth: {Authorizer: NONE}}}
        """,
    )
    with pytest.raises(
        TemplateError, match=r"Fn Open: Authorizer NONE .* ServerlessHttpApi has a DefaultAuthorizer"
    ):
        template.functions()


# ---------------------------------------------------------------------- the real template


def http_api_events(document: dict[str, Any]) -> set[tuple[str, str, str, str | None]]:
    """(function, METHOD, path, authorizer) of every HttpApi event, read straight from the YAML."""
    default_authorizers = {
        logical_id: (resource["Properties"].get("Auth") or {}).get("DefaultAuthorizer")
        for logical_id, resource in document["Resources"].items()
        if resource["Type"] == "AWS::Serverless::HttpApi"
    }
    found = set()
    for logical_id, resource in document["Resources"].items():
        for event in (resource.get("Properties") or {}).get("Events", {}).values():
            if event["Type"] == "HttpApi":
                properties = event["Properties"]
                default = default_authorizers.get(properties.get("ApiId", {}).get("Ref"))
                authorizer = (properties.get("Auth") or {}).get("Authorizer", default)
                authorizer = None if authorizer == "NONE" else authorizer
                found.add((logical_id, properties["Method"].upper(), properties["Path"], authorizer))
    return found


def test_every_http_api_event_of_template_yaml_becomes_one_route() -> None:
    # Given the project's template
    template = Template.load(REPOSITORY / "template.yaml")
    # When its functions are read
    routes = [(spec.logical_id, route) for spec in template.functions() for route in spec.routes]
    # Then each HttpApi event appears exactly once, with its method, path and authorizer
    extracted = [(function_id, r.method, r.path, r.authorizer) for function_id, r in routes]
    assert len(extracted) == len(set(extracted))
    assert set(extracted) == http_api_events(load_template_file(REPOSITORY / "template.yaml"))
    assert ("TbPostTelemetryFunction", "POST", "/api/v1/{token}/telemetry", None) in extracted
    assert ("ManageAuthFunction", "POST", "/manage/v1/auth", None) in extracted
    assert ("ManageDevicesFunction", "GET", "/manage/v1/devices", "OperatorJwt") in extracted
    assert [r.route_key for _, r in routes if r.event_name == "PostTelemetry"] == [
        "POST /api/v1/{token}/telemetry"
    ]


def test_the_real_template_is_secure_by_default() -> None:
    # Given the project's template, read straight from the YAML and through the local stack
    document = load_template_file(REPOSITORY / "template.yaml")
    routes = [
        (route, spec.logical_id)
        for spec in Template.load(REPOSITORY / "template.yaml").functions()
        for route in spec.routes
    ]
    events = {
        (logical_id, name): event["Properties"]
        for logical_id, resource in document["Resources"].items()
        for name, event in ((resource.get("Properties") or {}).get("Events") or {}).items()
        if event["Type"] == "HttpApi"
    }
    assert document["Resources"]["HttpApi"]["Properties"]["Auth"]["DefaultAuthorizer"] == "OperatorJwt"
    assert len(routes) == len(events) > 0
    for route, function_id in routes:
        declared = events[(function_id, route.event_name)].get("Auth")
        if route.path.startswith("/manage/") and route.route_key != "POST /manage/v1/auth":
            # Then every operator route but login needs the JWT, through the default: none opts in by hand
            assert (route.authorizer, declared) == ("OperatorJwt", None), route.route_key
        else:
            # And every device route, and login, opts out explicitly
            assert (route.authorizer, declared) == (None, {"Authorizer": "NONE"}), route.route_key


def test_the_real_template_provisions_in_process_and_gives_each_function_its_environment() -> None:
    template = Template.load(REPOSITORY / "template.yaml")
    with mock_aws():
        provisioned = provision(template, endpoint_url=None)
        auth = function_environment(template, "ManageAuthFunction", provisioned)
        telemetry = function_environment(template, "TbPostTelemetryFunction", provisioned)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        devices = dynamodb.describe_table(TableName=auth["DEVICES_TABLE"])["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=telemetry["TELEMETRY_TABLE"])["TimeToLiveDescription"]
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        pool_id = provisioned.physical_ids["OperatorUserPool"]
        pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        client = cognito.describe_user_pool_client(
            UserPoolId=pool_id, ClientId=auth["OPERATOR_USER_POOL_CLIENT_ID"]
        )
    assert auth["POWERTOOLS_SERVICE_NAME"] == "manage-auth"
    assert telemetry["POWERTOOLS_SERVICE_NAME"] == "tb-post-telemetry"
    assert "OPERATOR_USER_POOL_CLIENT_ID" not in telemetry
    assert telemetry["TELEMETRY_RETENTION_DAYS"] == "90"
    assert [index["IndexName"] for index in devices["GlobalSecondaryIndexes"]] == [
        "ByKindAndName",
        "ByProfileAndName",
    ]
    assert devices["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ttl == {"AttributeName": "expiresAt", "TimeToLiveStatus": "ENABLED"}
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert client["UserPoolClient"]["ExplicitAuthFlows"] == [
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    ]


def test_resources_are_created_after_what_they_reference_and_unknown_types_are_named(tmp_path: Path) -> None:
    # Given a template listing a rule before the queue it references, and a type moto cannot host
    template = load(
        tmp_path,
        """
        Resources:
          Rule:
            Type: AWS::IoT::TopicRule
            Properties:
              TopicRulePayload:
                Sql: SELECT * FROM 'v1/device/+/telemetry'
                RuleDisabled: false
                Actions: [{Sqs: {QueueUrl: !Ref Queue, RoleArn: !GetAtt Role.Arn}}]
          Queue:
            Type: AWS::SQS::Queue
            Properties: {VisibilityTimeout: 30, FifoQueue: true}
          Role: {Type: AWS::IAM::Role, Properties: {ManagedPolicyArns: [!Ref Policy]}}
          Policy: {Type: AWS::IAM::ManagedPolicy, Properties: {PolicyDocument: {Statement: []}}}
          Alarm: {Type: AWS::CloudWatch::Nonexistent, DependsOn: Queue}
        """,
    )
    with mock_aws():
        # When it is provisioned
        provisioned = provision(template, endpoint_url=None)
        rule = boto3.client("iot", region_name="us-east-1").get_topic_rule(
            ruleName=provisioned.physical_ids["Rule"]
        )
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.get_queue_attributes(QueueUrl=provisioned.physical_ids["Queue"], AttributeNames=["All"])
    # Then the rule points at the queue created first, and the unknown types only got names
    assert rule["rule"]["actions"][0]["sqs"]["queueUrl"] == provisioned.physical_ids["Queue"]
    assert queue["Attributes"]["VisibilityTimeout"] == "30"
    assert provisioned.physical_ids["Queue"].endswith(".fifo")
    assert provisioned.attributes["Role"]["Arn"].startswith("arn:aws:iam:")
    policy = provisioned.physical_ids["Policy"]  # Ref of a managed policy is its ARN, as in CloudFormation
    assert policy.startswith("arn:aws:iam::123456789012:policy/fleetgate-local-Policy-")
    assert provisioned.attributes["Policy"] == {"PolicyArn": policy}
    assert provisioned.physical_ids["Alarm"].startswith("fleetgate-local-Alarm-")


def test_a_resource_missing_a_required_property_is_named(tmp_path: Path) -> None:
    template = load(tmp_path, "Resources: {Table: {Type: AWS::DynamoDB::Table}}")
    with mock_aws(), pytest.raises(TemplateError, match=r"Table .* lacks the property 'KeySchema'"):
        provision(template, endpoint_url=None)


def test_resources_that_reference_each_other_in_a_cycle_are_an_error(tmp_path: Path) -> None:
    template = load(
        tmp_path,
        """
        Resources:
          A: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAtt B.QueueName}}
          B: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAtt A.QueueName}}
        """,
    )
    with mock_aws(), pytest.raises(TemplateError, match="cycle"):
        provision(template, endpoint_url=None)


# ---------------------------------------------------------------------- route selection


def route(method: str, path: str) -> tuple[Route, str]:
    return Route(method=method, path=path, authorizer=None, event_name=f"{method} {path}"), f"{method} {path}"


def test_the_most_specific_route_wins() -> None:
    table = RouteTable(
        [
            route("ANY", "/files/{proxy+}"),
            route("GET", "/files/{id}"),
            route("GET", "/files/latest"),
            route("ANY", "/files/{id}"),
        ]
    )

    def selected(method: str, path: str) -> tuple[str, dict[str, str]] | None:
        match = table.match(method, path)
        return None if match is None else (match.function_id, match.path_parameters)

    assert selected("GET", "/files/latest") == ("GET /files/latest", {})
    assert selected("GET", "/files/a%20b") == ("GET /files/{id}", {"id": "a b"})
    assert selected("DELETE", "/files/42") == ("ANY /files/{id}", {"id": "42"})
    assert selected("GET", "/files/a/b%2Fc") == ("ANY /files/{proxy+}", {"proxy": "a/b/c"})
    assert selected("GET", "/files") is None
    assert selected("GET", "/files/") is None
    assert selected("GET", "/other") is None


def test_the_default_route_takes_what_nothing_else_matches() -> None:
    table = RouteTable([route("GET", "/a"), (Route("ANY", "$default", None, "Fallback"), "Fallback")])
    match = table.match("POST", "/anything/at/all")
    assert match is not None
    assert (match.function_id, match.route.route_key) == ("Fallback", "$default")


def test_two_functions_declaring_one_route_is_an_error() -> None:
    with pytest.raises(TemplateError, match="GET /a"):
        RouteTable([route("GET", "/a"), (Route("GET", "/a", None, "Again"), "Other")])
