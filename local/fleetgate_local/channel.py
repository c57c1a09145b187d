"""The private channel between the gateway and a function worker: length-prefixed JSON messages over a
Unix socket pair, so whatever a handler prints to stdout or stderr can never corrupt the protocol.

Standard library only: the worker imports it before the handler, in a Lambda-sized process.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import time
from typing import Any

_LENGTH = struct.Struct(">I")


class ChannelClosed(Exception):
    """The other end went away (worker exited, or the gateway closed the channel)."""


class Channel:
    """One end of the socket pair."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def send(self, message: Any) -> None:
        """Send one JSON-serialisable message (raises TypeError/ValueError before sending anything)."""
        data = json.dumps(message, separators=(",", ":")).encode("utf-8")
        try:
            self._sock.settimeout(None)
            self._sock.sendall(_LENGTH.pack(len(data)) + data)
        except OSError as error:
            raise ChannelClosed(str(error)) from None

    def receive(self, timeout: float | None = None) -> Any:
        """The next message; ``TimeoutError`` if none arrives within ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        (length,) = _LENGTH.unpack(self._read(_LENGTH.size, deadline))
        return json.loads(self._read(length, deadline))

    def close(self) -> None:
        """Close this end; a thread blocked in ``receive`` on it wakes up with ``ChannelClosed``."""
        with contextlib.suppress(OSError):  # already closed by the other end
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def _read(self, size: int, deadline: float | None) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(min(size - len(chunks), 1 << 20))
            except TimeoutError:
                raise
            except OSError as error:
                raise ChannelClosed(str(error)) from None
            if not chunk:
                raise ChannelClosed("end of stream")
            chunks += chunk
        return bytes(chunks)
