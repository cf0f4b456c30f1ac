"""The one exception type every codec in L{protocols} raises.

A codec that cannot decode (or encode) its input raises L{CodecError} naming the
field that failed and the byte offset where it was being read.  Adapters turn it
into a counted drop, a GBCS error response or a DUIS error code (STYLE.md, 7).
"""

from __future__ import annotations


class CodecError(ValueError):
    """Malformed, truncated or inconsistent bytes (or a value that cannot be encoded).

    @ivar field: dotted name of the field being read or written, in the spec's terms.
    @ivar offset: byte offset (from the start of the buffer given to the codec).
    @ivar reason: human-readable explanation.
    """

    def __init__(self, field: str, offset: int, reason: str) -> None:
        self.field = field
        self.offset = offset
        self.reason = reason
        super().__init__(f"{field} at offset {offset}: {reason}")

    def nested(self, prefix: str, base: int) -> "CodecError":
        """Return the same error re-expressed for an enclosing buffer.

        @param prefix: name of the enclosing field, prepended to L{field}.
        @param base: offset of the inner buffer within the enclosing one.
        """
        return CodecError(f"{prefix}.{self.field}" if prefix else self.field,
                          base + self.offset, self.reason)
