"""Powertools Logger and Metrics, configured by the template's environment (service name, namespace,
log level). Tracer is left out on purpose: it costs about 420 ms of cold start for device endpoints
that make two or three AWS calls."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()

# A request that records no metric is normal (a failed one, a read); Powertools warns on each.
warnings.filterwarnings("ignore", message="No application metrics to publish")
