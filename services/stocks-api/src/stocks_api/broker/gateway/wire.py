"""The TWS socket protocol's framing: length-prefixed messages of NUL-terminated fields.

Every message is a 4-byte big-endian length, then ASCII fields each ended by `\\0`. A
client opens with `API\\0` and one such message holding its version range
(`v157..178`, maybe followed by connection options); the server answers with one message
of exactly two fields, the chosen version and the connection time.
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

HANDSHAKE_PREFIX = b"API\0"
LENGTH = struct.Struct(">I")
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # IB's own limit is far larger than any real message

# IB's "no value" markers, as ibapi sends them (ib_async sends empty fields instead).
UNSET_DOUBLE = "1.7976931348623157E308"
UNSET_INTEGER = "2147483647"
UNSET_LONG = "9223372036854775807"

_VERSION_RANGE = re.compile(rb"^v(\d+)(?:\.\.(\d+))?(?: .*)?$", re.S)


class ProtocolViolationError(Exception):
    """The peer sent something the protocol does not allow; the connection must end."""


def encode(fields: Sequence[object]) -> bytes:
    """One framed message of `fields` (already strings, or ints)."""
    payload = b"".join(str(f).encode("ascii", "replace") + b"\0" for f in fields)
    return LENGTH.pack(len(payload)) + payload


def parse_version_range(payload: bytes) -> tuple[int, int]:
    """(min, max) from the handshake message, e.g. b"v157..178".

    Raises:
        ProtocolViolationError: not a version range.
    """
    match = _VERSION_RANGE.match(payload)
    if match is None:
        raise ProtocolViolationError(f"bad handshake {payload[:40]!r}")
    low = int(match.group(1))
    return low, int(match.group(2) or low)


async def read_message(reader: asyncio.StreamReader) -> bytes:
    """The payload of the next message.

    Raises:
        asyncio.IncompleteReadError: the peer closed the connection.
        ProtocolViolationError: the announced length is absurd.
    """
    (size,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolViolationError(f"message of {size} bytes")
    return await reader.readexactly(size)


def split_fields(payload: bytes) -> list[str]:
    """The fields of one message payload."""
    fields = payload.decode("ascii", "replace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


class Fields:
    """Reads one message's fields in order, parsing IB's conventions for empty and unset."""

    def __init__(self, fields: Sequence[str]) -> None:
        self._fields = fields
        self._at = 0

    @property
    def remaining(self) -> int:
        return len(self._fields) - self._at

    def str(self) -> str:
        if self._at >= len(self._fields):
            raise ProtocolViolationError("message ended early")
        value = self._fields[self._at]
        self._at += 1
        return value

    def skip(self, count: int = 1) -> None:
        for _ in range(count):
            self.str()

    def int(self, default: int = 0) -> int:
        text = self.str()
        if text in ("", UNSET_INTEGER, UNSET_LONG):
            return default
        try:
            return int(text)
        except ValueError:
            raise ProtocolViolationError(f"not an integer: {text!r}") from None

    def bool(self) -> bool:
        return self.int() != 0

    def decimal(self) -> Decimal | None:
        """A number, or None for empty and IB's max-double 'unset'."""
        text = self.str()
        if text == "" or text.upper() in (UNSET_DOUBLE.upper(), "1.7976931348623157E+308"):
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ProtocolViolationError(f"not a number: {text!r}") from None
        if not value.is_finite() or abs(value) >= Decimal("1E300"):
            return None
        return value
