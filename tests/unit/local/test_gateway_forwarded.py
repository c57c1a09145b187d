"""The ``x-forwarded-*`` headers the local gateway adds to each request, as API Gateway adds them: a
function that builds its own URL from ``Host`` (Xyte registration's ``hub_url``) sees ``http``, the
scheme the local stack serves, and no client can claim another scheme or port."""

from __future__ import annotations

from fleetgate_local.events import fold_headers
from fleetgate_local.gateway import forwarded


def test_the_gateway_adds_its_scheme_port_and_the_clients_address() -> None:
    headers = fold_headers(forwarded([("Host", "127.0.0.1:3000")], "127.0.0.1", 3000))

    assert headers == {
        "host": "127.0.0.1:3000",
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-port": "3000",
        "x-forwarded-proto": "http",
    }


def test_a_clients_scheme_and_port_are_replaced_and_its_chain_kept() -> None:
    sent = [("X-Forwarded-Proto", "https"), ("x-forwarded-port", "443"), ("X-Forwarded-For", "10.0.0.1")]

    headers = fold_headers(forwarded(sent, "127.0.0.1", 3000))

    assert (headers["x-forwarded-proto"], headers["x-forwarded-port"]) == ("http", "3000")
    assert headers["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
