"""The error classes every layer raises, in one place at the bottom of the package.

Each message is one specific line, so the CLI can print it as it is. They are
grouped by what the user should do about them:

    ContainerError and its kinds   the bytes are not a well-formed .vqv stream
    EntropyCodingError             a payload does not decode under its tables
    CodecError                     a stream this codec cannot decode (wrong model,
                                   quality, frame order); TokenMismatchError: the
                                   decoded tokens fail their CRC
    ModelNotFound                  the model a command or a stream names is not here

DAMAGED is what a damaged stream raises while it is decoded (the CLI's exit
code 3 or 4, RecoveringDecoder's resynchronisation); a wrong model is not
damage. Nothing here imports anything of the package.
"""
from __future__ import annotations


class ContainerError(ValueError):
    """Base of every error the container raises; the message is one specific line."""


class NotAVqvFile(ContainerError):
    """Bad magic."""


class CorruptHeader(ContainerError):
    """Header CRC mismatch, or a value the format forbids (also raised when building one)."""


class UnsupportedVersion(ContainerError):
    def __init__(self, found: int, supported: tuple[int, ...]):
        self.found, self.supported = found, supported
        names = ", ".join(str(v) for v in supported[:-1]) + f" and {supported[-1]}" if len(supported) > 1 \
            else str(supported[0])
        super().__init__(f"unsupported .vqv version {found} (this build reads versions {names})")


class LimitExceeded(ContainerError):
    def __init__(self, field: str, value: int, limit: int, where: str = ""):
        self.field, self.value, self.limit = field, value, limit
        super().__init__(f"{field} {value} exceeds the limit of {limit}{where}")


class TruncatedStream(ContainerError):
    def __init__(self, offset: int, frame: int):
        self.offset, self.frame = offset, frame  # frame: the first frame lost
        super().__init__(f"stream truncated at byte {offset} (frame {frame})")


class PacketCrcError(ContainerError):
    def __init__(self, offset: int, frame: int):
        self.offset, self.frame = offset, frame
        super().__init__(f"payload CRC mismatch at frame {frame} (packet at byte {offset})")


class CorruptPacket(ContainerError):
    def __init__(self, detail: str, offset: int | None = None, frame: int | None = None):
        self.offset, self.frame = offset, frame
        super().__init__(detail if offset is None else f"corrupt packet at byte {offset}: {detail}")


class EntropyCodingError(ValueError):
    """The payload does not decode under the given tables (corrupt data)."""


class CodecError(ValueError):
    """A stream that cannot be decoded by this codec (wrong model, mismatch)."""


class TokenMismatchError(CodecError):
    """Decoded tokens fail their CRC: the stream is damaged or the prior's
    probabilities differ from the encoder's."""


class ModelNotFound(LookupError):
    """A model name or path that names no installed, readable model."""


# What decoding a damaged stream raises: the CLI's "corrupt" exit codes.
DAMAGED = (ContainerError, EntropyCodingError, TokenMismatchError)
# What RecoveringDecoder resynchronises after: damage, and the codec errors a
# lost packet causes downstream (an inter packet with no intra before it, a
# header copy of another model spliced in).
RECOVERABLE = (ContainerError, EntropyCodingError, CodecError)
