"""One exception hierarchy for the whole toolkit.

Every error the library raises derives from :class:`MsiToolsError`.  Each layer
(compound file, database, summary information, transforms, cabinets, PE images,
published tables, signatures, extraction) has its own subclass, so callers can
catch one layer or everything.  ``str(error)`` is a single line that names the
file (when known) and the problem.  An error may carry a *hint* (one of the
``HINT_*`` names below): what the caller could do about it.  The library never
names command-line options or commands in its messages; the command line turns
a hint into its own advice ("use --force to overwrite").
"""
from __future__ import annotations

import os

# what the caller could do (MsiToolsError.hint)
HINT_OVERWRITE = "overwrite"  # the output exists: allow overwriting it
HINT_TRANSFORM_REPORT = "transform-report"  # a transform was given where a package is needed: read it as a transform
HINT_NEEDS_TRANSFORM = "needs-transform"  # a transform (.mst) was expected
HINT_NEEDS_PATCH = "needs-patch"  # a patch (.msp) was expected
HINT_RAISE_LIMIT = "raise-limit"  # a resource limit stopped the work: raise it if the input is trusted


class MsiToolsError(Exception):
    """Root of every error raised by msitools."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.hint = hint

    def with_path(self, path: str | os.PathLike[str] | None) -> MsiToolsError:
        """Attach the file name if the error does not carry one yet; returns self."""
        if self.path is None and path is not None:
            self.path = os.fspath(path)
        return self

    def __str__(self) -> str:
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message


class UsageError(MsiToolsError):
    """The caller asked for something that does not exist (a table, a stream...)."""


class CompoundFileError(MsiToolsError):
    """The OLE compound file container is unreadable (not CFB, truncated, broken chain)."""


class TruncatedError(CompoundFileError):
    """A stream of a compound file that was cut short (a partial download): the message says how much is present."""


class DatabaseError(MsiToolsError):
    """The MSI database inside the container is malformed."""


class StringPoolError(DatabaseError):
    """_StringPool / _StringData are missing or inconsistent."""


class TableError(DatabaseError):
    """A table stream or its schema (_Tables/_Columns) is malformed."""


class SummaryInfoError(MsiToolsError):
    """The \\x05SummaryInformation property set is malformed."""


class TransformError(MsiToolsError):
    """A transform (.mst or a patch substorage) is malformed or does not apply."""


class PatchError(MsiToolsError):
    """A patch (.msp) is malformed or does not target the given base."""


class DeltaError(PatchError):
    """A binary delta header (PA19 / PA30) in a patch cabinet is malformed."""


class CabinetError(MsiToolsError):
    """A cabinet is malformed, truncated or uses something we cannot decode."""


class ChecksumError(CabinetError):
    """A CFDATA block's checksum does not match its bytes."""


class TruncatedCabinetError(CabinetError):
    """A cabinet cut short by the end of its file or stream: the message says how much is present."""


class DecompressionError(CabinetError):
    """Compressed data (MSZIP, LZX, Quantum) is corrupt."""


class PeError(MsiToolsError):
    """A PE image is malformed."""


class KbParseError(MsiToolsError):
    """A published file-information table could not be parsed."""


class SignatureError(MsiToolsError):
    """An Authenticode signature is unreadable."""


class ExtractionError(MsiToolsError):
    """A file could not be written safely."""


class UnsafePathError(ExtractionError):
    """A name from the package would escape the output folder or is not a valid file name."""


class LimitExceeded(MsiToolsError):
    """A resource limit (see :mod:`msitools.limits`) was exceeded."""

    def __init__(self, limit: str, value: int, maximum: int, what: str = "",
                 path: str | os.PathLike[str] | None = None):
        detail = f"{what}: " if what else ""
        super().__init__(f"{detail}{limit} limit exceeded ({value} > {maximum})", path, HINT_RAISE_LIMIT)
        self.limit = limit
        self.value = value
        self.maximum = maximum
