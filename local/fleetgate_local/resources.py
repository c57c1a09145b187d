"""Create the template's AWS resources in moto, in dependency order, the way CloudFormation would.

Every resource comes from ``template.yaml``; a registry maps resource *types* to the API calls that
create them. Types moto cannot host (SAM functions, layers, HTTP APIs), IAM managed policies (moto does
not enforce IAM) and types the local stack does not know yet get a physical id and an ARN only, so
``Ref``/``GetAtt`` to them still resolve.
Works against a moto server (``endpoint_url``) and against in-process ``mock_aws()``
(``endpoint_url=None``).
"""

from __future__ import annotations

import json
import logging
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from fleetgate_local import moto_policies
from fleetgate_local.intrinsics import TemplateError, as_text, references
from fleetgate_local.template import Template

_log = logging.getLogger(__name__)

TEST_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class Provisioned:
    """What ``Ref`` (``physical_ids``) and ``Fn::GetAtt`` (``attributes``) return for each resource."""

    physical_ids: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # logical id -> resource type

    def of_type(self, resource_type: str) -> list[str]:
        """Physical ids of every provisioned resource of one type, in template order."""
        return [self.physical_ids[lid] for lid, kind in self.types.items() if kind == resource_type]


def aws_client(service: str, *, endpoint_url: str | None, region: str) -> Any:
    """A boto3 client for moto with test credentials (never the caller's own)."""
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region, **TEST_CREDENTIALS)


@dataclass
class _Context:
    template: Template
    endpoint_url: str | None
    region: str
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = aws_client(service, endpoint_url=self.endpoint_url, region=self.region)
        return self._clients[service]

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region, account = (self.region, self.template.account_id) if regional else ("", "")
        return f"arn:aws:{service}:{region}:{account}:{resource}"

    def name(
        self, logical_id: str, *, max_length: int = 128, lower: bool = False, separator: str = "-"
    ) -> str:
        """A CloudFormation-style generated name: ``<stack>-<LogicalId>-<RANDOMSUFFIX>``."""
        alphabet = string.ascii_lowercase + string.digits if lower else string.ascii_uppercase + string.digits
        suffix = "".join(secrets.choice(alphabet) for _ in range(12))
        head = f"{self.template.stack_name}{separator}{logical_id}"[: max_length - len(suffix) - 1]
        name = f"{head}{separator}{suffix}"
        return name.lower() if lower else name


# A creator makes one resource from its resolved properties and returns (physical id, attributes).
_Created = tuple[str, dict[str, str]]
_Creator = Callable[[_Context, str, dict[str, Any]], _Created]


def provision(template: Template, *, endpoint_url: str | None, region: str | None = None) -> Provisioned:
    """Create every resource of ``template`` that moto supports; name the others."""
    context = _Context(template, endpoint_url, region or template.region)
    provisioned = Provisioned()
    resources = template.resources()
    creatable = {lid: resource for lid, resource in resources.items() if resource["Type"] in _CREATORS}
    for logical_id, resource in resources.items():
        provisioned.types[logical_id] = resource["Type"]
        if logical_id not in creatable:
            physical_id, attributes = _named_only(context, logical_id, resource)
            provisioned.physical_ids[logical_id] = physical_id
            provisioned.attributes[logical_id] = attributes
    for logical_id in _creation_order(creatable):
        resource = creatable[logical_id]
        properties = template.resolve(
            resource.get("Properties") or {}, provisioned.physical_ids, provisioned.attributes
        )
        try:
            physical_id, attributes = _CREATORS[resource["Type"]](context, logical_id, properties)
        except KeyError as error:
            raise TemplateError(f"{logical_id} ({resource['Type']}) lacks the property {error}") from None
        except (BotoCoreError, ClientError) as error:
            raise TemplateError(
                f"{logical_id} ({resource['Type']}) cannot be created in moto: {error}"
            ) from None
        _log.debug("created %s %s as %s", resource["Type"], logical_id, physical_id)
        provisioned.physical_ids[logical_id] = physical_id
        provisioned.attributes[logical_id] = attributes
    return provisioned


def _creation_order(creatable: dict[str, dict[str, Any]]) -> list[str]:
    graph = {}
    for logical_id, resource in creatable.items():
        depends_on = resource.get("DependsOn") or []
        explicit = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        graph[logical_id] = (references(resource.get("Properties")) | explicit) & creatable.keys()
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise TemplateError(f"resources depend on each other in a cycle: {error.args[1]}") from None


def _named_only(context: _Context, logical_id: str, resource: dict[str, Any]) -> _Created:
    """Physical id and attributes of a resource that is not created in moto."""
    kind = resource["Type"]
    properties = resource.get("Properties") or {}
    if kind == "AWS::Serverless::Function":
        name = _given_name(properties.get("FunctionName")) or context.name(logical_id, max_length=64)
        return name, {"Arn": context.arn("lambda", f"function:{name}")}
    if kind == "AWS::Serverless::LayerVersion":
        name = _given_name(properties.get("LayerName")) or context.name(logical_id, max_length=64)
        arn = context.arn("lambda", f"layer:{name}:1")
        return arn, {"Arn": arn}
    if kind == "AWS::IAM::ManagedPolicy":  # Ref gives its ARN; moto does not enforce IAM: nothing to create
        name = _given_name(properties.get("ManagedPolicyName")) or context.name(logical_id)
        arn = f"arn:aws:iam::{context.template.account_id}:policy/{name}"
        return arn, {"PolicyArn": arn}
    if kind == "AWS::Serverless::HttpApi":
        api_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))
        endpoint = f"https://{api_id}.execute-api.{context.region}.amazonaws.com"
        return api_id, {"ApiId": api_id, "ApiEndpoint": endpoint}
    if kind in _IOT_NAMED:  # run by the local MQTT front (fleetgate_local.mqtt), not by moto
        name_property, arn_resource = _IOT_NAMED[kind]
        name = _given_name(properties.get(name_property)) or context.name(logical_id, separator="_")
        return name, {"Arn": context.arn("iot", arn_resource.format(name=name))}
    _log.debug("%s (%s) is not created locally; it only gets a name", logical_id, kind)
    name = context.name(logical_id)
    service = kind.split("::")[1].lower() if kind.count("::") == 2 else "unknown"
    return name, {"Arn": context.arn(service, name)}


# type -> (name property, ARN resource): Ref gives the name, GetAtt Arn the ARN
_IOT_NAMED: dict[str, tuple[str, str]] = {
    "AWS::IoT::Authorizer": ("AuthorizerName", "authorizer/{name}"),
    "AWS::IoT::DomainConfiguration": ("DomainConfigurationName", "domainconfiguration/{name}/local"),
}


def _given_name(value: Any) -> str | None:
    """A name property if the template sets it to a plain string (names built with intrinsics are
    generated instead: they may refer to resources that do not exist yet)."""
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------------- DynamoDB


def _create_table(context: _Context, logical_id: str, properties: dict[str, Any]) -> _Created:
    name = properties.get("TableName") or context.name(logical_id, max_length=255)
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    for key in ("ProvisionedThroughput", "Tags", "DeletionProtectionEnabled", "TableClass"):
        if key in properties:
            request[key] = properties[key]
    index_keys = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if properties.get(key):
            request[key] = [{k: index[k] for k in index_keys if k in index} for index in properties[key]]
    if stream := properties.get("StreamSpecification"):
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    if sse := properties.get("SSESpecification"):
        request["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled"))} | {
            key: sse[key] for key in ("SSEType", "KMSMasterKeyId") if key in sse
        }
    dynamodb = context.client("dynamodb")
    table = dynamodb.create_table(**request)["TableDescription"]
    if ttl := properties.get("TimeToLiveSpecification"):
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    if pitr := properties.get("PointInTimeRecoverySpecification"):
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": bool(pitr.get("PointInTimeRecoveryEnabled"))
            },
        )
    attributes = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return name, attributes


# ---------------------------------------------------------------------- S3


def _create_bucket(context: _Context, logical_id: str, properties: dict[str, Any]) -> _Created:
    name = properties.get("BucketName") or context.name(logical_id, max_length=63, lower=True)
    s3 = context.client("s3")
    location = {} if context.region == "us-east-1" else {"LocationConstraint": context.region}
    s3.create_bucket(Bucket=name, **({"CreateBucketConfiguration": location} if location else {}))
    if versioning := properties.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
    if encryption := properties.get("BucketEncryption"):
        rules = [
            {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
            | ({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {})
            for rule in encryption["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if block := properties.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
    if ownership := properties.get("OwnershipControls"):
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=ownership)
    region = context.region
    return name, {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
    }


def _put_bucket_policy(context: _Context, logical_id: str, properties: dict[str, Any]) -> _Created:
    bucket = properties["Bucket"]
    moto_policies.apply()  # else moto's evaluation of the TLS-only statement denies every request
    context.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(properties["PolicyDocument"]))
    return bucket, {}


# ---------------------------------------------------------------------- Cognito


def _create_user_pool(context: _Context, logical_id: str, properties: dict[str, Any]) -> _Created:
    cognito = context.client("cognito-idp")
    request = _api_request(cognito, "CreateUserPool", properties, renamed={"UserPoolName": "PoolName"})
    request.setdefault("PoolName", context.name(logical_id))
    pool = cognito.create_user_pool(**request)["UserPool"]
    provider = f"cognito-idp.{context.region}.amazonaws.com/{pool['Id']}"
    return pool["Id"], {
        "Arn": pool["Arn"],
        "UserPoolId": pool["Id"],
        "ProviderName": provider,
        "ProviderURL": f"https://{provider}",
    }


def _create_user_pool_client(context: _Context, logical_id: str, properties: dict[str, Any]) -> _Created:
    cognito = context.client("cognito-idp")
    request = _api_request(cognito, "CreateUserPoolClient", properties)
    request.setdefault("ClientName", context.name(logical_id))
    client = cognito.create_user_pool_client(**request)["UserPoolClient"]
    attributes = {"ClientId": client["ClientId"], "Name": client["ClientName"]}
    if "ClientSecret" in client:
        attributes["ClientSecret"] = client["ClientSecret"]
    return client["ClientId"], attributes


def _api_request(
    client: Any, operation: str, properties: dict[str, Any], renamed: dict[str, str] | None = None
) -> dict[str, Any]:
    """The properties an API operation accepts under the same names (CloudFormation mostly reuses
    the API's); the rest is left out and logged."""
    members = client.meta.service_model.operation_model(operation).input_shape.members
    request = {(renamed or {}).get(key, key): value for key, value in properties.items()}
    ignored = sorted(set(request) - set(members))
    if ignored:
        _log.debug("%s: not applied locally: %s", operation, ignored)
    return {key: value for key, value in request.items() if key in members}


# ---------------------------------------------------------------------- SQS, Logs, IoT

_SQS_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def _create_queue(context: _Context, logical_id: str, properties: dict[str, Any]) -> _Created:
    fifo = bool(properties.get("FifoQueue"))
    name = properties.get("QueueName") or (
        context.name(logical_id, max_length=75) + ".fifo" if fifo else context.name(logical_id, max_length=80)
    )
    attributes = {
        key: json.dumps(value) if isinstance(value, dict) else as_text(value)
        for key, value in properties.items()
        if key in _SQS_ATTRIBUTES
    }
    tags = {tag["Key"]: tag["Value"] for tag in properties.get("Tags") or []}
    url = context.client("sqs").create_queue(QueueName=name, Attributes=attributes, tags=tags)["QueueUrl"]
    return url, {"Arn": context.arn("sqs", name), "QueueName": name, "QueueUrl": url}


def _create_log_group(context: _Context, logical_id: str, properties: dict[str, Any]) -> _Created:
    name = properties.get("LogGroupName") or context.name(logical_id, max_length=512)
    logs = context.client("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in properties:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(properties["RetentionInDays"]))
    return name, {"Arn": context.arn("logs", f"log-group:{name}:*")}


def _create_key(context: _Context, logical_id: str, properties: dict[str, Any]) -> _Created:
    """A symmetric KMS key (moto encrypts and decrypts with it, and checks the encryption context);
    Ref gives its key id, GetAtt Arn its ARN. The key policy is not enforced locally."""
    request: dict[str, Any] = {"KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT"}
    if isinstance(properties.get("Description"), str):
        request["Description"] = properties["Description"]
    kms = context.client("kms")
    metadata = kms.create_key(**request)["KeyMetadata"]
    if as_text(properties.get("EnableKeyRotation", "false")).lower() == "true":
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
    return metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}


def _create_topic_rule(context: _Context, logical_id: str, properties: dict[str, Any]) -> _Created:
    """Stored only: moto never evaluates topic rules (the local rule runner does)."""
    name = properties.get("RuleName") or context.name(logical_id, separator="_").replace("-", "_")
    payload = _camel_case(properties["TopicRulePayload"])
    context.client("iot").create_topic_rule(ruleName=name, topicRulePayload=payload)
    return name, {"Arn": context.arn("iot", f"rule/{name}")}


def _camel_case(value: Any) -> Any:
    """CloudFormation's IoT property names are the API's with a capital first letter."""
    if isinstance(value, list):
        return [_camel_case(item) for item in value]
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel_case(item) for key, item in value.items()}
    return value


_CREATORS: dict[str, _Creator] = {
    "AWS::DynamoDB::Table": _create_table,
    "AWS::S3::Bucket": _create_bucket,
    "AWS::S3::BucketPolicy": _put_bucket_policy,
    "AWS::Cognito::UserPool": _create_user_pool,
    "AWS::Cognito::UserPoolClient": _create_user_pool_client,
    "AWS::SQS::Queue": _create_queue,
    "AWS::Logs::LogGroup": _create_log_group,
    "AWS::IoT::TopicRule": _create_topic_rule,
    "AWS::KMS::Key": _create_key,
}
