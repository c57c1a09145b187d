"""Powertools Logger and Metrics, configured by the template's environment (service name, namespace,
log level). Tracer is left out on purpose: it costs about 420 ms of cold start for device endpoints
that make two or three AWS calls.

Every handler is decorated with ``logger.inject_lambda_context``; this logger's decorator also records
the invocation's deadline (``fleetgate.deadline``) for the retry loops and long-polls below it.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from fleetgate import deadline


class _Logger(Logger):
    def inject_lambda_context(self, lambda_handler: Any = None, *args: Any, **options: Any) -> Any:
        if lambda_handler is None:
            return functools.partial(self.inject_lambda_context, *args, **options)
        logged = super().inject_lambda_context(lambda_handler, *args, **options)

        @functools.wraps(lambda_handler)
        def handler(event: Any, context: Any, *more: Any, **named: Any) -> Any:
            with deadline.invocation(context):
                return logged(event, context, *more, **named)

        return handler


logger = _Logger()
metrics = Metrics()

# A request that records no metric is normal (a failed one, a read); Powertools warns on each.
warnings.filterwarnings("ignore", message="No application metrics to publish")
