"""The request bodies of the operator API (``/manage/v1``): the routes under ``functions/manage/``
validate their bodies with these models (``manage.parse_body``), and the OpenAPI document shows the same
models, so the two cannot drift apart."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from fleetgate.dialects.thingdatas.commands import MAX_ACTION, MAX_TTL_S
from fleetgate.dialects.thingsboard.rpc import MAX_METHOD
from fleetgate.domain.apikeys import MAX_NAME
from fleetgate.domain.claims import MAX_SECRET
from fleetgate.domain.groups import MAX_DESCRIPTION
from fleetgate.domain.ota import ALGORITHMS, MAX_TEXT


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- auth
class LoginRequest(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=256)
    acceptEULA: bool | None = None


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
    method: str = Field(min_length=1, max_length=8)
    path: str = Field(min_length=1, max_length=256)


class CreateApiKeyRequest(_Strict):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    permissions: list[PermissionModel]
    thingNames: list[str] | None = None


# --------------------------------------------------------------------------- commands and RPC
class SendCommandRequest(_Strict):
    action: str = Field(min_length=1, max_length=MAX_ACTION)
    params: Any = None
    ttl: StrictInt | None = Field(default=None, ge=1, le=MAX_TTL_S)
    executionId: str | None = None  # a UUID the operator chooses (default: a new one)


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
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)


# --------------------------------------------------------------------------- jobs
class TargetsModel(_Strict):
    thingNames: list[StrictStr] | None = None
    thingGroupNames: list[StrictStr] | None = None


class RolloutModel(_Strict):
    maximumPerMinute: StrictInt


class CriterionModel(_Strict):
    failureType: StrictStr
    action: StrictStr
    thresholdPercentage: StrictInt | StrictFloat
    minNumberOfExecutedThings: StrictInt


class AbortModel(_Strict):
    criteriaList: list[CriterionModel]


class TimeoutModel(_Strict):
    inProgressTimeoutInMinutes: StrictInt


class CreateJobRequest(_Strict):
    jobId: StrictStr | None = None
    description: StrictStr | None = None
    document: Any
    targets: TargetsModel
    targetSelection: StrictStr | None = None
    jobExecutionsRolloutConfig: RolloutModel | None = None
    abortConfig: AbortModel | None = None
    timeoutConfig: TimeoutModel | None = None


class CancelJobRequest(_Strict):
    force: StrictBool = False
    reasonCode: StrictStr | None = None
    comment: StrictStr | None = None


# --------------------------------------------------------------------------- OTA
class CreatePackageRequest(_Strict):
    type: str = Field(description="FIRMWARE or SOFTWARE")
    title: str = Field(min_length=1, max_length=MAX_TEXT)
    version: str = Field(min_length=1, max_length=MAX_TEXT)
    contentType: str | None = None
    fileName: str | None = None
    checksumAlgorithm: str | None = Field(default=None, description=", ".join(ALGORITHMS))
    checksum: str | None = None
    size: int | None = Field(default=None, strict=True)


class AssignRequest(_Strict):
    """``firmwareId`` / ``softwareId``: an id assigns that package, null unassigns, absent keeps."""

    firmwareId: str | None = None
    softwareId: str | None = None


# --------------------------------------------------------------------------- device profiles
StrategyName = Literal["ALLOW_CREATE_NEW_DEVICES", "CHECK_PRE_PROVISIONED_DEVICES", "DISABLED"]


class CreateProfileRequest(_Strict):
    name: str = Field(min_length=1, max_length=64)
    provisionStrategy: StrategyName
    provisionDeviceKey: str | None = Field(default=None, min_length=1, max_length=128)


class UpdateProfileRequest(_Strict):
    provisionStrategy: StrategyName
