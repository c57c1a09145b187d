"""OTA packages: create (with a presigned upload URL), upload small ones directly, complete a presigned
upload, list, read, delete."""

import ota_rendering as render
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from fleetgate.contracts.manage_requests import CreatePackageRequest
from fleetgate.dialects import manage
from fleetgate.domain.ota import OtaPackage
from fleetgate.http import HttpRequest
from fleetgate.services import ota

router = APIGatewayHttpRouter()


def _with_upload(package: OtaPackage) -> dict:
    out = render.package(package)
    upload = ota.upload_url(package)
    if upload is not None:
        out["uploadUrl"] = upload.url
        out["uploadUrlExpiresAt"] = render.iso(upload.expires_at)
    return out


@router.post("/manage/v1/ota-packages")
def create_package() -> Response:
    body = manage.parse_body(router, CreatePackageRequest)
    package, upload = ota.create_package(
        body.type,
        body.title,
        body.version,
        content_type=body.contentType,
        file_name=body.fileName,
        checksum_algorithm=body.checksumAlgorithm,
        checksum=body.checksum,
        size=body.size,
    )
    data = {
        **render.package(package),
        "uploadUrl": upload.url,
        "uploadUrlExpiresAt": render.iso(upload.expires_at),
    }
    return manage.envelope(data, status=201)


@router.get("/manage/v1/ota-packages")
def list_packages() -> Response:
    limit, token = manage.page_query(router)
    package_type = router.current_event.get_query_string_value("type") or None
    page, next_token = ota.list_packages(package_type, limit, token)
    return manage.page([render.package(p) for p in page], next_token)


@router.get("/manage/v1/ota-packages/<package_id>")
def get_package(package_id: str) -> Response:
    return manage.envelope(_with_upload(ota.get_package(package_id)))


@router.put("/manage/v1/ota-packages/<package_id>/data")
def upload_data(package_id: str) -> Response:
    data = HttpRequest.from_event(router.current_event.raw_event).body
    return manage.envelope(render.package(ota.upload_data(package_id, data)))


@router.post("/manage/v1/ota-packages/<package_id>/complete")
def complete(package_id: str) -> Response:
    return manage.envelope(render.package(ota.complete(package_id)))


@router.delete("/manage/v1/ota-packages/<package_id>")
def delete_package(package_id: str) -> Response:
    ota.delete_package(package_id)
    return Response(status_code=204, body="")
