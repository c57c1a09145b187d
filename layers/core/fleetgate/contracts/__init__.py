"""The HTTP contracts of every route: one ``Operation`` per route of ``template.yaml``, with the pydantic
models of its bodies, from which ``fleetgate.contracts.openapi`` builds the OpenAPI document.

Operator routes validate their bodies with the request models defined here (``manage_requests``), so
the document shows exactly what the handlers accept. Device routes parse by hand (no pydantic on their
cold path): their models describe what those parsers accept and what the handlers answer.

Nothing below this package imports it (``.importlinter``): device handlers never load it.
"""
