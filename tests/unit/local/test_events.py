"""Payload format 2.0 as API Gateway builds it (requests) and reads it (responses)."""

from __future__ import annotations

import base64
import json

import pytest

from fleetgate_local.events import MalformedResponseError, http_api_event, http_api_response

ROUTE = "POST /api/v1/{token}/telemetry"


def event(**overrides: object) -> dict:
    arguments: dict = {"route_key": ROUTE, "path_parameters": {"token": "A1"}, "body": None} | overrides
    return http_api_event("POST", "/api/v1/A1/telemetry", **arguments)


def test_the_event_has_payload_2_0_shape() -> None:
    # Given a plain request
    built = event(headers={"Host": "127.0.0.1:3000", "User-Agent": "curl/8"}, source_ip="10.0.0.7")
    # Then it carries API Gateway's fields
    assert built["version"] == "2.0"
    assert built["routeKey"] == ROUTE
    assert built["rawPath"] == "/api/v1/A1/telemetry"
    assert built["rawQueryString"] == ""
    assert built["pathParameters"] == {"token": "A1"}
    assert built["isBase64Encoded"] is False
    context = built["requestContext"]
    assert context["routeKey"] == ROUTE
    assert context["stage"] == "$default"
    assert context["accountId"] == "123456789012"
    assert context["domainName"] == "127.0.0.1:3000"
    assert context["http"] == {
        "method": "POST",
        "path": "/api/v1/A1/telemetry",
        "protocol": "HTTP/1.1",
        "sourceIp": "10.0.0.7",
        "userAgent": "curl/8",
    }
    assert isinstance(context["timeEpoch"], int)
    assert context["time"].endswith(" +0000")
    assert context["requestId"]
    # And the optional parts are absent, not empty
    for absent in ("body", "queryStringParameters", "cookies"):
        assert absent not in built
    assert "authorizer" not in context


def test_path_parameters_are_absent_without_variables() -> None:
    built = http_api_event("GET", "/manage/v1/devices", route_key="GET /manage/v1/devices", body=None)
    assert "pathParameters" not in built


def test_greedy_path_parameters_keep_their_slashes() -> None:
    built = http_api_event(
        "GET",
        "/files/a/b.bin",
        route_key="GET /files/{proxy+}",
        path_parameters={"proxy": "a/b.bin"},
        body=None,
    )
    assert built["pathParameters"] == {"proxy": "a/b.bin"}


def test_query_parameters_are_decoded_and_repeated_ones_joined_with_commas() -> None:
    built = event(query="keys=a&keys=b%2Cc&name=x+y&flag=&t=%E2%9C%93")
    assert built["rawQueryString"] == "keys=a&keys=b%2Cc&name=x+y&flag=&t=%E2%9C%93"
    assert built["queryStringParameters"] == {"keys": "a,b,c", "name": "x y", "flag": "", "t": "✓"}


def test_headers_are_lower_cased_and_repeated_ones_joined_with_commas() -> None:
    built = event(headers=[("X-Trace", "1"), ("x-trace", "2"), ("Content-Type", "application/json")])
    assert built["headers"] == {"x-trace": "1,2", "content-type": "application/json"}


def test_cookies_move_from_the_headers_to_their_own_list() -> None:
    built = event(headers=[("Cookie", "a=1; b=2"), ("Cookie", "c=3"), ("Accept", "*/*")])
    assert built["cookies"] == ["a=1", "b=2", "c=3"]
    assert built["headers"] == {"accept": "*/*"}


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "text/plain", "application/merge-patch+json"],
)
def test_text_bodies_are_passed_as_text(content_type: str) -> None:
    built = event(headers={"Content-Type": content_type}, body='{"temperature":42,"unit":"°C"}'.encode())
    assert built["body"] == '{"temperature":42,"unit":"°C"}'
    assert built["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (None, b'{"temperature":42}'),  # curl --data-binary without a type
        ("application/x-www-form-urlencoded", b'{"temperature":42}'),  # curl -d's default
        ("application/octet-stream", b"\x00\x01\xff"),
        ("application/json", b"\xff\xfe not utf-8"),
    ],
)
def test_other_bodies_are_base64_encoded(content_type: str | None, body: bytes) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    built = event(headers=headers, body=body)
    assert built["isBase64Encoded"] is True
    assert base64.b64decode(built["body"]) == body


def test_jwt_claims_reach_the_function_as_strings() -> None:
    claims = {"sub": "u-1", "exp": 1700000000, "email_verified": True, "cognito:groups": ["ops", "admins"]}
    built = event(jwt_claims=claims, jwt_scopes=["devices/read"])
    assert built["requestContext"]["authorizer"] == {
        "jwt": {
            "claims": {
                "sub": "u-1",
                "exp": "1700000000",
                "email_verified": "true",
                "cognito:groups": "[ops admins]",
            },
            "scopes": ["devices/read"],
        }
    }


# ---------------------------------------------------------------------- responses


def test_a_response_with_status_code_is_taken_as_is() -> None:
    response = http_api_response(
        {
            "statusCode": 201,
            "headers": {"content-type": "text/plain", "x-n": 3},
            "cookies": ["a=1", "b=2"],
            "body": "hi",
        }
    )
    assert response.status == 201
    assert response.headers == [
        ("content-type", "text/plain"),
        ("x-n", "3"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
    ]
    assert response.body == b"hi"


def test_a_base64_response_body_is_decoded() -> None:
    body = base64.b64encode(b"\x00firmware").decode()
    assert (
        http_api_response({"statusCode": 200, "body": body, "isBase64Encoded": True}).body == b"\x00firmware"
    )


def test_any_other_return_value_is_a_json_200() -> None:
    response = http_api_response({"temperature": 42})
    assert (response.status, response.headers) == (200, [("content-type", "application/json")])
    assert json.loads(response.body) == {"temperature": 42}
    assert http_api_response(None).body == b"null"


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": 99},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": {"x": ["a", "b"]}},
        {"statusCode": 200, "body": "@@@", "isBase64Encoded": True},
    ],
)
def test_malformed_responses_are_rejected(result: dict) -> None:
    with pytest.raises(MalformedResponseError):
        http_api_response(result)
