"""``multipart/form-data`` reading (``fleetgate.multipart``): a delimiter is a line of its own."""

from __future__ import annotations

import pytest

from fleetgate.errors import InvalidRequest
from fleetgate.multipart import field, is_multipart, parts

CT = "multipart/form-data; boundary=B"


def test_a_part_may_hold_the_boundary_text_where_it_is_no_delimiter() -> None:
    pem = b"-----BEGIN CERTIFICATE-----\r\nMIIB--B--\r\n-----END CERTIFICATE-----"
    body = b'--B\r\nContent-Disposition: form-data; name="caCertFile"\r\n\r\n' + pem + b"\r\n--B--\r\n"
    assert parts(body, CT) == [("caCertFile", pem)]


def test_parts_come_in_order_with_their_names() -> None:
    body = (
        b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        b'--B\r\nContent-Disposition: form-data; name="b"; filename="b.bin"\r\n\r\n\x00\xff\r\n--B--\r\n'
    )
    assert parts(body, CT) == [("a", b"1"), ("b", b"\x00\xff")]
    assert field(body, CT, "b") == b"\x00\xff"
    assert is_multipart("Multipart/Form-Data; boundary=x") and not is_multipart("application/json")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"--B--\r\n",
        b'--B\r\nContent-Disposition: form-data; name="a"\r\n1\r\n--B--\r\n',
        b"--B\r\n\r\nx",
    ],
)
def test_a_body_that_is_no_form_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        parts(body, CT)


def test_a_form_without_a_boundary_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="boundary"):
        parts(b"--B--\r\n", "multipart/form-data")
