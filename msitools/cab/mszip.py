"""MSZIP: per-block raw DEFLATE with a shared 32 KiB history (FORMATS.md §6.3).

Each CFDATA block holds ``CK`` followed by a raw DEFLATE stream that decodes
to exactly cbUncomp bytes.  Back-references may reach into the previous 32 KiB
of the folder's output, so the decoder hands zlib that history as a preset
dictionary (cabarchive passes the previous block; libmspack keeps its window).
"""
from __future__ import annotations

import zlib

from msitools.errors import DecompressionError

HISTORY = 32768
SIGNATURE = b"CK"


class MszipDecoder:
    """Decode the blocks of one MSZIP folder, in order."""

    def __init__(self) -> None:
        self._history = b""

    def decode(self, data: bytes, out_size: int) -> bytes:
        """Inflate one block to exactly *out_size* bytes.

        Raises:
            DecompressionError: no ``CK`` signature, corrupt DEFLATE data, or the
                block inflates to more or fewer bytes than declared.
        """
        if data[:2] != SIGNATURE:
            raise DecompressionError(f"MSZIP block does not start with 'CK' (found {bytes(data[:2])!r})")
        try:
            if self._history:
                inflater = zlib.decompressobj(-15, zdict=self._history)
            else:
                inflater = zlib.decompressobj(-15)
            # Ask for one byte more than declared: getting it proves the block
            # inflates beyond its size without ever producing more than that.
            out = inflater.decompress(memoryview(data)[2:], out_size + 1)
        except zlib.error as exc:
            raise DecompressionError(f"corrupt MSZIP data: {exc}") from exc
        if len(out) > out_size:
            raise DecompressionError(f"MSZIP block inflates beyond its declared size of {out_size} bytes")
        if len(out) < out_size:
            raise DecompressionError(f"MSZIP block inflates to {len(out)} bytes, {out_size} declared")
        history = self._history + out if len(out) < HISTORY else out
        self._history = history[-HISTORY:]
        return out
