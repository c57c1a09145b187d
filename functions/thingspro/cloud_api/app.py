"""The ThingsPro Cloud API of one gateway: every operation of Moxa's document under
``/thingspro/gateways/{gateway_id}/api/v1`` (``fleetgate.dialects.thingspro``). Five functions run
this code, one per ThingsPro service (mqtt and remotectl, azure-device, aws, azure-iotedge, sparkplug),
so that no function's resource policy outgrows Lambda's 20 KB with a permission per route.
"""

from aws_lambda_powertools.logging import correlation_paths

from fleetgate.contracts import thingspro as moxa
from fleetgate.dialects import thingspro
from fleetgate.observability import logger


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: object) -> dict:
    return thingspro.handle(event, moxa)
