"""The exception the DUIS codec raises: a L{CodecError} that also names the DUIS response code."""

from __future__ import annotations

from protocols.duis.codes import ResponseCode
from protocols.errors import CodecError


class DuisError(CodecError):
    """A service request failed a DUIS check; C{code} is the response code to answer with.

    C{field} is the element path (e.g. C{Header.RequestID}); C{offset} is the source line of
    the element in the request (0 when unknown).
    """

    def __init__(self, code: ResponseCode, field: str, reason: str, line: int = 0) -> None:
        self.code = code
        super().__init__(field, line or 0, reason)
