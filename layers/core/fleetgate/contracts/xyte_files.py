"""Xyte files and dumps: the device operations (see ``fleetgate.contracts.xyte``), and the operator's
(``/manage/v1/xyte/...``: a model's files, a device's dumps) with their request model and views.

The operator routes validate their bodies with ``CreateXyteFileRequest``, which the document shows; its
rules are those of ``fleetgate.domain.xyte_files`` (which checks them again, with the model's API version
deciding whether a firmware version must be SemVer)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from fleetgate.contracts import manage
from fleetgate.contracts import xyte as common
from fleetgate.contracts.gateway import GATEWAY
from fleetgate.contracts.spec import Answer, Operation, Parameter, envelope, model, page, path, ref, schema
from fleetgate.domain.xyte_files import (
    MAX_CHECKSUM,
    MAX_DUMP_BYTES,
    MAX_FILES_PER_MODEL,
    MAX_NAME,
    MAX_PART_BYTES,
    MAX_PARTS,
    MAX_SIGNATURE,
    MAX_TEXT,
)

_END = r"(?![\s\S])"  # the very end (Python's $ also matches before a final newline)
_PROSE = rf"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]{{0,{MAX_TEXT}}}{_END}"
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


# --------------------------------------------------------------------------- operator request
class CreateXyteFileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")

    name: Annotated[
        StrictStr, Field(pattern=rf"^(?=.*\S)[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]{{1,{MAX_NAME}}}{_END}")
    ]
    file_type: Annotated[
        StrictStr,
        Field(pattern=rf"^[a-z0-9][a-z0-9_.-]{{0,63}}{_END}", description="'firmware' for firmware files"),
    ]
    version: Annotated[
        StrictStr,
        Field(
            pattern=rf"^[^\x00-\x1f\x7f]{{1,64}}{_END}",
            description="SemVer for a firmware file of a model of API version 1.0.4 or later",
        ),
    ]
    desc: Annotated[StrictStr, Field(pattern=_PROSE)] | None = None
    checksum: Annotated[StrictStr, Field(pattern=rf"^[ -~]{{1,{MAX_CHECKSUM}}}{_END}")] | None = None
    signature: Annotated[StrictStr, Field(pattern=rf"^[ -~]{{1,{MAX_SIGNATURE}}}{_END}")] | None = None
    public_notes: Annotated[StrictStr, Field(pattern=_PROSE)] | None = None


# --------------------------------------------------------------------------- views
class XyteFileView(BaseModel):
    """Xyte's Get File object."""

    id: str
    name: str
    url: str = Field(description="a presigned GET of the file's bytes, valid 300 s")
    desc: str
    file_type: str
    version: str
    checksum: str | None = None
    signature: str | None = None
    created_at: str
    public_notes: str
    device_id: str | None = Field(default=None, description="from model API version 1.0.7")


class XyteDumpAnswer(BaseModel):
    id: str = Field(description="the dump's id, for appends")
    length: int = Field(description="the dump's length so far, in bytes")


class XyteManagedFileView(BaseModel):
    id: str
    model_id: str
    name: str
    file_type: str
    version: str
    desc: str
    checksum: str | None
    signature: str | None
    public_notes: str
    created_at: str
    uploaded: bool = Field(description="whether the bytes have been found (devices see only uploaded files)")
    size: int | None
    uploaded_at: str | None
    upload_url: str | None = Field(default=None, description="a presigned PUT, while the file is pending")
    upload_url_expires_at: str | None = None


class XyteLatestFirmwareView(BaseModel):
    model_id: str
    latest_fw_version: str
    latest_fw_file_id: str


class XyteDumpPartUrl(BaseModel):
    url: str = Field(description="a presigned GET of this part, valid 300 s")
    length: int
    expires_at: str


class XyteDumpView(BaseModel):
    id: str
    device_id: str
    mime_type: str
    filename: str
    length: int
    parts: int
    created_at: str
    updated_at: str
    download: list[XyteDumpPartUrl] | None = Field(
        default=None,
        description="the parts in order (a dump read only): their bytes, concatenated, are the dump",
    )


# --------------------------------------------------------------------------- device operations
FILE_ID = path("file_id", {"type": "string"}, "a file's id")
DUMP_ID = path(
    "dump_id",
    {"type": "string"},
    "a dump's id, as Send Dump answered it ('[object Object]': the newest dump)",
)
DUMP_PATH = path(
    "dump_path+",
    {"type": "string", "pattern": r"^[^/]+/[^/]+/[^/]+$"},
    "<MIME type>/<file name>, the MIME type URL-encoded as Xyte's agent sends it (text%2Ftxt/agent.log); "
    "a greedy variable, so an encoded or a plain slash both work",
)
_BYTES = schema({"type": "string", "format": "binary"}, "*/*") | schema(
    {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"type": "string", "format": "binary"}},
    },
    "multipart/form-data",
)
DUMP_TOO_LARGE = Answer(
    413,
    f"A part over {MAX_PART_BYTES} bytes, or a dump over {MAX_DUMP_BYTES} bytes or {MAX_PARTS} parts: code "
    "PayloadTooLarge; nothing is written",
    common.ERROR | GATEWAY,
)

DEVICE_OPERATIONS: tuple[Operation, ...] = (
    common.operation(
        "GET",
        "/v1/devices/{device_id}/files",
        "xyte_get_files",
        "Get Files: the uploaded files of the device's model",
        Answer(
            200,
            "The files, oldest first",
            schema({"type": "array", "items": ref(XyteFileView)}, models=(XyteFileView,)),
        ),
    ),
    common.operation(
        "GET",
        "/v1/devices/{device_id}/files/{file_id}",
        "xyte_get_file",
        "Get File: one file of the device's model, with a presigned URL",
        Answer(200, "The file", model(XyteFileView)),
        extra=(Answer(404, "No such file of this model, or its bytes were never uploaded", common.ERROR),),
        parameters=(common.DEVICE_ID, FILE_ID),
    ),
    common.operation(
        "POST",
        "/v1/devices/{device_id}/dumps/{dump_path+}",
        "xyte_send_dump",
        "Send Dump: the body (raw, or multipart field data) as a new dump",
        Answer(201, "The dump's id and length", model(XyteDumpAnswer)),
        extra=(DUMP_TOO_LARGE,),
        request=_BYTES,
        parameters=(common.DEVICE_ID, DUMP_PATH),
    ),
    common.operation(
        "PUT",
        "/v1/devices/{device_id}/dumps/{dump_id}",
        "xyte_append_dump",
        "Append to Dump: the body as the dump's next part",
        Answer(200, "The dump's id and its new length", model(XyteDumpAnswer)),
        extra=(Answer(404, "Not one of this device's dumps", common.ERROR), DUMP_TOO_LARGE),
        request=_BYTES,
        parameters=(common.DEVICE_ID, DUMP_ID),
    ),
)


# --------------------------------------------------------------------------- operator operations
MODEL_ID = path("modelId", {"type": "string", "pattern": _UUID}, "a Xyte model's id")
OPERATOR_FILE_ID = path("fileId", {"type": "string"}, "a file's id")
DEVICE = path("id", {"type": "string", "minLength": 1}, "a Xyte device's id")
OPERATOR_DUMP_ID = path("dumpId", {"type": "string"}, "a dump's id")
V1 = "/manage/v1/xyte"


def _operator(
    method: str,
    route: str,
    operation_id: str,
    summary: str,
    success: Answer,
    *others: Answer,
    parameters: tuple[Parameter, ...],
    request_model: type[BaseModel] | None = None,
) -> Operation:
    common_answers = [manage.BAD_REQUEST, manage.UNAUTHORIZED, manage.NOT_FOUND, manage.FAILED, manage.BUSY]
    if request_model is not None:
        common_answers.append(manage.TOO_LARGE)
    answers = {a.status: a for a in common_answers} | {a.status: a for a in (success, *others)}
    return Operation(
        method=method,
        path=V1 + route,
        operation_id=operation_id,
        tag=manage.TAG,
        summary=summary,
        answers=tuple(answers[s] for s in sorted(answers)),
        parameters=parameters,
        request=model(request_model) if request_model else None,
        security=manage.SECURITY,
    )


OPERATOR_OPERATIONS: tuple[Operation, ...] = (
    _operator(
        "POST",
        "/models/{modelId}/files",
        "manage_xyte_create_file",
        "Create a file of a Xyte model, with a presigned upload URL",
        Answer(201, "The file, pending until its bytes are uploaded", envelope(XyteManagedFileView)),
        manage.conflict(f"The model has {MAX_FILES_PER_MODEL} files already"),
        parameters=(MODEL_ID,),
        request_model=CreateXyteFileRequest,
    ),
    _operator(
        "GET",
        "/models/{modelId}/files",
        "manage_xyte_list_files",
        "List a Xyte model's files",
        Answer(200, "One page", page(XyteManagedFileView)),
        parameters=(MODEL_ID, *manage.PAGE),
    ),
    _operator(
        "GET",
        "/models/{modelId}/files/{fileId}",
        "manage_xyte_get_file",
        "Read a file (a fresh upload URL while it is pending)",
        Answer(200, "The file", envelope(XyteManagedFileView)),
        parameters=(MODEL_ID, OPERATOR_FILE_ID),
    ),
    _operator(
        "DELETE",
        "/models/{modelId}/files/{fileId}",
        "manage_xyte_delete_file",
        "Delete a file and its bytes",
        manage.NO_CONTENT,
        manage.conflict("The file is the model's latest firmware"),
        parameters=(MODEL_ID, OPERATOR_FILE_ID),
    ),
    _operator(
        "POST",
        "/models/{modelId}/files/{fileId}/latest",
        "manage_xyte_make_latest_firmware",
        "Make an uploaded firmware file the model's latest firmware",
        Answer(200, "The model's latest firmware", envelope(XyteLatestFirmwareView)),
        manage.conflict("The file's bytes were never uploaded, or the model changed meanwhile"),
        parameters=(MODEL_ID, OPERATOR_FILE_ID),
    ),
    _operator(
        "GET",
        "/devices/{id}/dumps",
        "manage_xyte_list_dumps",
        "List a Xyte device's dumps, newest first",
        Answer(200, "One page", page(XyteDumpView)),
        parameters=(DEVICE, *manage.PAGE),
    ),
    _operator(
        "GET",
        "/devices/{id}/dumps/{dumpId}",
        "manage_xyte_get_dump",
        "Read a dump, with a presigned URL per part",
        Answer(200, "The dump", envelope(XyteDumpView)),
        parameters=(DEVICE, OPERATOR_DUMP_ID),
    ),
)

OPERATIONS: tuple[Operation, ...] = DEVICE_OPERATIONS + OPERATOR_OPERATIONS
