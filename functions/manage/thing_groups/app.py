"""Operator API: static thing groups (``/manage/v1/thing-groups``), the targets of ThingDatas jobs. A
thing that joins a group is reached by the CONTINUOUS jobs targeting it; errors are mapped once by
``fleetgate.dialects.manage``."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from fleetgate.clock import iso_utc
from fleetgate.contracts.manage_requests import CreateGroupRequest
from fleetgate.dialects import manage
from fleetgate.domain.devices import Thing
from fleetgate.domain.groups import ThingGroup
from fleetgate.observability import logger, metrics
from fleetgate.services import groups

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)


def render(group: ThingGroup) -> dict:
    return {
        "name": group.name,
        "description": group.description,
        "createdAt": iso_utc(group.created_at, milliseconds=True),
    }


def render_thing(thing: Thing) -> dict:
    return {"thingName": thing.name, "deviceId": thing.id}


@app.post("/manage/v1/thing-groups")
def create_group() -> Response:
    body = manage.parse_body(app, CreateGroupRequest)
    return manage.envelope(render(groups.create(body.name, body.description)), status=201)


@app.get("/manage/v1/thing-groups")
def list_groups() -> Response:
    page, next_token = groups.list_page(*manage.page_query(app))
    return manage.page([render(g) for g in page], next_token)


@app.get("/manage/v1/thing-groups/<name>")
def get_group(name: str) -> Response:
    return manage.envelope(render(groups.get(name)))


@app.delete("/manage/v1/thing-groups/<name>")
def delete_group(name: str) -> Response:
    groups.delete(name)
    return Response(status_code=204, body="")


@app.get("/manage/v1/thing-groups/<name>/things")
def list_members(name: str) -> Response:
    page, next_token = groups.members_page(name, *manage.page_query(app))
    return manage.page([render_thing(t) for t in page], next_token)


@app.put("/manage/v1/thing-groups/<name>/things/<thing_name>")
def add_member(name: str, thing_name: str) -> Response:
    return manage.envelope({"groupName": name, **render_thing(groups.add_thing(name, thing_name))})


@app.delete("/manage/v1/thing-groups/<name>/things/<thing_name>")
def remove_member(name: str, thing_name: str) -> Response:
    groups.remove_thing(name, thing_name)
    return Response(status_code=204, body="")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
