"""moto's bucket-policy evaluation, made to skip statements whose conditions do not apply (AWS's rule)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from fleetgate_local import moto_policies

BUCKET = "policy-test-bucket"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def deny(condition: dict[str, Any] | None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_a_tls_only_statement_lets_signed_requests_through(s3: Any) -> None:
    moto_policies.apply()
    s3.put_bucket_policy(Bucket=BUCKET, Policy=deny({"Bool": {"aws:SecureTransport": "false"}}))

    s3.put_object(Bucket=BUCKET, Key="k", Body=b"v")

    assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"v"


def test_an_unconditional_deny_still_denies(s3: Any) -> None:
    moto_policies.apply()
    s3.put_bucket_policy(Bucket=BUCKET, Policy=deny(None))

    with pytest.raises(ClientError):
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"v")


def test_apply_is_idempotent() -> None:
    moto_policies.apply()
    patched = moto_policies.IAMPolicyStatement.is_action_permitted

    moto_policies.apply()

    assert moto_policies.IAMPolicyStatement.is_action_permitted is patched
