"""fleetgate core: one device model (registry, shadow, telemetry) under several device dialects.

Layout:
- ``domain``: pure rules (devices and credentials, the shadow engine, telemetry records); no AWS.
- ``data``: the only modules that talk to AWS (boto3 clients created lazily and cached).
- ``services``: use cases that combine the two; what handlers call.
- ``dialects``: per-dialect request parsing and the one place each maps errors to its own responses.
"""
