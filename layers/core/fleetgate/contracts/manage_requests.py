"""The request bodies of the operator API (``/manage/v1``): the routes under ``functions/manage/``
validate their bodies with these models (``manage.parse_body``), and the OpenAPI document shows the same
models, so the two cannot drift apart."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    model_validator,
)

from fleetgate.dialects.thingdatas.commands import MAX_ACTION, MAX_TTL_S, UUID_TEXT
from fleetgate.dialects.thingsboard.rpc import MAX_METHOD
from fleetgate.domain.apikeys import MAX_NAME, MAX_PATH, MAX_PERMISSIONS, MAX_THINGS, METHODS
from fleetgate.domain.claims import MAX_SECRET
from fleetgate.domain.groups import MAX_DESCRIPTION
from fleetgate.domain.jobs import MAX_COMMENT, MAX_GROUP_TARGETS, MAX_PER_MINUTE, MAX_THING_TARGETS
from fleetgate.domain.jobs import MAX_DESCRIPTION as MAX_JOB_DESCRIPTION
from fleetgate.domain.jobs import MAX_TIMEOUT_MINUTES as MAX_JOB_TIMEOUT_MINUTES
from fleetgate.domain.ota import ALGORITHMS, DEFAULT_ALGORITHM, DIGEST_LENGTHS, MAX_PACKAGE_BYTES, MAX_TEXT
from fleetgate.jsonutil import integer


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _any_case(word: str) -> str:
    """A regular expression for ``word`` in any letter case (JSON Schema patterns have no flags)."""
    return "".join(
        f"[{c.upper()}{c.lower()}]" if c.isalpha() else c if c.isdigit() else f"\\{c}" for c in word
    )


def _json_integer(value: Any) -> Any:
    """A JSON integer, also when written with a zero fraction (``3.0``): JSON Schema's ``integer``."""
    number = integer(value) if isinstance(value, float) else None
    return value if number is None else number


# an integer as JSON Schema has it: 3 or 3.0, never "3" or true
AS_INTEGER = BeforeValidator(_json_integer)  # after any constraints, or their schema is lost in a union
StrictInt = Annotated[int, Field(strict=True), AS_INTEGER]

THING_NAME = r"^[a-zA-Z0-9:_-]{1,128}$"  # fleetgate.domain.devices.NAME_PATTERN
ThingName = Annotated[str, Field(pattern=THING_NAME)]


# --------------------------------------------------------------------------- auth
class LoginRequest(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=256)
    acceptEULA: StrictBool | None = None


# --------------------------------------------------------------------------- devices
class CreateDeviceRequest(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    type: str | None = Field(default=None, min_length=1, max_length=64)
    label: str | None = Field(default=None, max_length=256)
    profileId: str | None = Field(default=None, min_length=1, max_length=64)


class ClaimDeviceRequest(BaseModel):
    deviceName: str = Field(min_length=1, max_length=128)
    secretKey: str = Field(default="", max_length=MAX_SECRET)


# --------------------------------------------------------------------------- API keys
class PermissionModel(_Strict):
    method: str = Field(
        pattern="^(" + "|".join(_any_case(m) for m in sorted(METHODS)) + ")$",
        description="an HTTP method (any case) or * for any",
    )
    path: str = Field(
        max_length=MAX_PATH, pattern=r"^/[A-Za-z0-9._~{}/-]*$", description="a path prefix, by whole segments"
    )  # fleetgate.domain.apikeys.PATH_PATTERN


class CreateApiKeyRequest(_Strict):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    permissions: list[PermissionModel] = Field(min_length=1, max_length=MAX_PERMISSIONS)
    thingNames: list[ThingName] | None = Field(
        default=None, min_length=1, max_length=MAX_THINGS, description="absent: every thing"
    )


# --------------------------------------------------------------------------- commands and RPC
class SendCommandRequest(_Strict):
    action: str = Field(min_length=1, max_length=MAX_ACTION)
    params: Any = None
    ttl: Annotated[int, Field(strict=True, ge=1, le=MAX_TTL_S), AS_INTEGER] | None = None
    executionId: str | None = Field(
        default=None,
        pattern="^" + UUID_TEXT.pattern.removesuffix("\\Z") + "$",
        description="a UUID the operator chooses (default: a new one)",
    )


class SendRpcRequest(_Strict):
    method: str = Field(min_length=1, max_length=MAX_METHOD)
    params: Any = None
    oneway: StrictBool = False
    persistent: StrictBool = False
    timeout: StrictInt | None = None  # ms
    expirationTime: StrictInt | None = None  # epoch ms
    retries: StrictInt | None = None
    additionalInfo: Any = None


# --------------------------------------------------------------------------- thing groups
class CreateGroupRequest(_Strict):
    name: ThingName  # fleetgate.domain.groups.NAME_PATTERN
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)


# --------------------------------------------------------------------------- jobs
class TargetsModel(_Strict):
    """At least one thing or thing group (duplicates count once)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["thingNames"], "properties": {"thingNames": {"type": "array", "minItems": 1}}},
                {
                    "required": ["thingGroupNames"],
                    "properties": {"thingGroupNames": {"type": "array", "minItems": 1}},
                },
            ]
        },
    )

    thingNames: list[ThingName] | None = Field(default=None, max_length=MAX_THING_TARGETS)
    thingGroupNames: list[ThingName] | None = Field(default=None, max_length=MAX_GROUP_TARGETS)

    @model_validator(mode="after")
    def _names_something(self) -> TargetsModel:
        if not self.thingNames and not self.thingGroupNames:
            raise ValueError("targets must name at least one thing or thing group")
        return self


class RolloutModel(_Strict):
    maximumPerMinute: StrictInt = Field(ge=1, le=MAX_PER_MINUTE)


class CriterionModel(_Strict):
    failureType: Literal["FAILED", "REJECTED", "TIMED_OUT", "ALL"]
    action: Literal["CANCEL"]
    thresholdPercentage: (
        Annotated[int, Field(strict=True, gt=0, le=100), AS_INTEGER]
        | Annotated[StrictFloat, Field(gt=0, le=100)]
    ) = Field(description="at most two digits after the decimal point")
    minNumberOfExecutedThings: StrictInt = Field(ge=1)


class AbortModel(_Strict):
    criteriaList: list[CriterionModel] = Field(min_length=1, description="one criterion per failureType")


class TimeoutModel(_Strict):
    inProgressTimeoutInMinutes: StrictInt = Field(ge=1, le=MAX_JOB_TIMEOUT_MINUTES)


class CreateJobRequest(_Strict):
    jobId: StrictStr | None = Field(
        default=None, pattern=r"^[a-zA-Z0-9_-]{1,64}$"
    )  # domain.jobs.JOB_ID_PATTERN
    description: StrictStr | None = Field(default=None, max_length=MAX_JOB_DESCRIPTION)
    document: dict[str, Any] = Field(description="a JSON object, at most 32 KiB as compact JSON")
    targets: TargetsModel
    targetSelection: Literal["SNAPSHOT", "CONTINUOUS"] | None = None
    jobExecutionsRolloutConfig: RolloutModel | None = None
    abortConfig: AbortModel | None = None
    timeoutConfig: TimeoutModel | None = None


class CancelJobRequest(_Strict):
    force: StrictBool = False
    reasonCode: StrictStr | None = Field(default=None, pattern=r"^[A-Z0-9_]{1,128}$")
    comment: StrictStr | None = Field(
        default=None, min_length=1, max_length=MAX_COMMENT, description="no control characters"
    )


# --------------------------------------------------------------------------- OTA
_NO_CONTROL = r"[^\x00-\x1f\x7f]"  # fleetgate.domain.ota: no control characters, not blank
_END = r"(?![\s\S])"  # the very end, in any engine (Python's $ also matches before a final newline)


class CreatePackageRequest(_Strict):
    # the patterns look ahead; a checksum has its algorithm's digest length (SHA256 when none is named)
    model_config = ConfigDict(
        extra="forbid",
        regex_engine="python-re",
        json_schema_extra={
            "allOf": [
                {
                    "if": (
                        {
                            "properties": {
                                "checksumAlgorithm": {
                                    "anyOf": [{"pattern": f"^{_any_case(algorithm)}$"}, {"type": "null"}]
                                }
                            }
                        }
                        if algorithm == DEFAULT_ALGORITHM
                        else {
                            "properties": {"checksumAlgorithm": {"pattern": f"^{_any_case(algorithm)}$"}},
                            "required": ["checksumAlgorithm"],
                        }
                    ),
                    "then": {
                        "properties": {
                            "checksum": {
                                "anyOf": [{"pattern": f"^[0-9a-fA-F]{{{length}}}$"}, {"type": "null"}]
                            }
                        }
                    },
                }
                for algorithm, length in DIGEST_LENGTHS.items()
            ]
        },
    )

    type: Literal["FIRMWARE", "SOFTWARE"]
    title: str = Field(
        pattern=rf"^(?!\.\.?$)(?=.*\S)[^\x00-\x1f\x7f/\\]{{1,{MAX_TEXT}}}{_END}",
        description="no control characters, '/' or '\\'; not blank, '.' or '..'",
    )
    version: str = Field(pattern=rf"^(?=.*\S){_NO_CONTROL}{{1,{MAX_TEXT}}}{_END}", description="not blank")
    contentType: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}" + _END,
        description="a media type; default application/octet-stream",
    )
    fileName: str | None = Field(
        default=None, pattern=r"^(?!\.+$)[A-Za-z0-9._+~-]{1,255}" + _END, description="default <type>.bin"
    )
    checksumAlgorithm: str | None = Field(
        default=None,
        pattern="^(" + "|".join(_any_case(a) for a in ALGORITHMS) + ")" + _END,
        description=", ".join(ALGORITHMS) + " (any case); default " + DEFAULT_ALGORITHM,
    )
    checksum: str | None = Field(
        default=None, pattern="^[0-9a-fA-F]+" + _END, description="hex, of the algorithm's digest length"
    )
    size: Annotated[int, Field(strict=True, ge=1, le=MAX_PACKAGE_BYTES), AS_INTEGER] | None = None

    @model_validator(mode="after")
    def _checksum_fits(self) -> CreatePackageRequest:
        algorithm = (self.checksumAlgorithm or DEFAULT_ALGORITHM).upper()
        if self.checksum is not None and len(self.checksum) != DIGEST_LENGTHS[algorithm]:
            raise ValueError(f"checksum must be {DIGEST_LENGTHS[algorithm]} hex digits for {algorithm}")
        return self


class AssignRequest(_Strict):
    """``firmwareId`` / ``softwareId``: an id assigns that package, null unassigns, absent keeps; at
    least one of them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    firmwareId: str | None = None
    softwareId: str | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> AssignRequest:
        if not self.model_fields_set:
            raise ValueError("Name firmwareId and/or softwareId (an id to assign, null to unassign)")
        return self


# --------------------------------------------------------------------------- device profiles
StrategyName = Literal["ALLOW_CREATE_NEW_DEVICES", "CHECK_PRE_PROVISIONED_DEVICES", "DISABLED"]


class CreateProfileRequest(_Strict):
    # the type of the devices it provisions: no control character, no leading or trailing space
    name: str = Field(
        min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\s]([^\x00-\x1f]{0,62}[^\x00-\x1f\s])?$"
    )
    provisionStrategy: StrategyName
    provisionDeviceKey: str | None = Field(default=None, pattern=r"^[!-~]{1,128}$")


class UpdateProfileRequest(_Strict):
    provisionStrategy: StrategyName
