"""fleetgate's docker-free local stack: moto as AWS, the template's resources, a payload-2.0 HTTP gateway.

Start it with ``python -m fleetgate_local`` (what ``make local`` runs) or, from Python,
``fleetgate_local.stack.LocalStack``. This module imports nothing on purpose: the function workers
(``fleetgate_local.worker``) import the package too, and must stay as light as a Lambda runtime.
"""
