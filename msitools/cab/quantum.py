"""Quantum decompression (FORMATS.md §6.3; libmspack ``qtmd.c`` as description).

Quantum is an LZ77 coder whose symbols go through an adaptive arithmetic
coder with nine frequency models:

* model 7 (7 symbols) picks the next item: 0-3 a literal from models 0-3
  (64 byte values each), 4 a 3-byte match, 5 a 4-byte match, 6 a match whose
  length comes from the 27-symbol length model;
* models 4, 5 and 6 give the offset's position slot (at most 24, 36 and
  2 x window-bits slots), followed by raw extra bits; offset = base + extra + 1.

The arithmetic coder keeps 16-bit registers H, L and C; bits are read most
significant first from the bytes in order.  Each model holds cumulative
frequencies; a decoded symbol adds 8 to the cumulative counts above it, and
when the total passes 3800 the model is rescaled (halved, or every 50th time
turned into frequencies, sorted and re-accumulated).

In a cabinet each CFDATA block is one frame of 32768 output bytes (the last
may be shorter): the coder restarts (H = 0xFFFF, L = 0, C = first 16 bits)
at every block while the models and the window carry over.  The window is
2^10..2^21 bytes (typeCompress bits 8-12).
"""
from __future__ import annotations

from msitools.errors import DecompressionError

FRAME_SIZE = 32768

POSITION_BASE: list[int] = []
EXTRA_BITS: list[int] = []
_offset = 0
for _i in range(42):
    POSITION_BASE.append(_offset)
    EXTRA_BITS.append(((_i - 2) if _i >= 2 else 0) >> 1)
    _offset += 1 << EXTRA_BITS[-1]
LENGTH_BASE: list[int] = []
LENGTH_EXTRA: list[int] = []
_offset = 0
for _i in range(26):
    LENGTH_BASE.append(_offset)
    LENGTH_EXTRA.append(((_i - 2) if _i >= 2 else 0) >> 2)
    _offset += 1 << LENGTH_EXTRA[-1]
LENGTH_BASE.append(254)
LENGTH_EXTRA.append(0)
del _i, _offset


class _Model:
    """An adaptive frequency model over symbols start..start+count-1."""

    __slots__ = ("cumfreq", "entries", "shifts_left", "symbols")

    def __init__(self, start: int, count: int):
        self.entries = count
        self.shifts_left = 4
        self.symbols = [start + i for i in range(count + 1)]
        self.cumfreq = [count - i for i in range(count + 1)]

    def rescale(self) -> None:
        cf = self.cumfreq
        n = self.entries
        self.shifts_left -= 1
        if self.shifts_left:
            for i in range(n - 1, -1, -1):
                cf[i] >>= 1
                if cf[i] <= cf[i + 1]:
                    cf[i] = cf[i + 1] + 1
            return
        self.shifts_left = 50
        for i in range(n):
            cf[i] = (cf[i] - cf[i + 1] + 1) >> 1  # cumulative -> halved frequency
        syms = self.symbols
        for i in range(n - 1):  # exchange sort, decreasing frequency (same stability as the encoder)
            for j in range(i + 1, n):
                if cf[i] < cf[j]:
                    cf[i], cf[j] = cf[j], cf[i]
                    syms[i], syms[j] = syms[j], syms[i]
        for i in range(n - 1, -1, -1):
            cf[i] += cf[i + 1]


def _cdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def initial_models(slots: int):
    """The adaptive models a Quantum folder starts with (the same for decoding and encoding):
    four literal models, three match-position models, the length model, the selector model."""
    literal = [_Model(0, 64), _Model(64, 64), _Model(128, 64), _Model(192, 64)]
    return literal, _Model(0, min(slots, 24)), _Model(0, min(slots, 36)), _Model(0, slots), _Model(0, 27), \
        _Model(0, 7)


class QuantumDecoder:
    """Decode the CFDATA blocks of one Quantum folder, in order."""

    def __init__(self, window_bits: int):
        if not 10 <= window_bits <= 21:
            raise DecompressionError(f"Quantum window size 2^{window_bits} is not supported (10..21)")
        self.window_bits = window_bits
        self._wsize = 1 << window_bits
        slots = window_bits * 2
        (self._literal, self._model4, self._model5, self._model6, self._model6len,
         self._model7) = initial_models(slots)
        self._history = bytearray()
        self._total = 0
        self._short_frame_seen = False
        # per-frame coder state
        self._data = b""
        self._pos = 0  # next byte
        self._bb = 0
        self._bc = 0
        self._h = self._l = self._c = 0

    def decode(self, data: bytes, out_size: int) -> bytes:
        """Decode one frame of *out_size* (1..32768) bytes from one CFDATA block's data.

        Raises:
            DecompressionError: the data is corrupt or does not fit the declared size.
        """
        try:
            return self._decode(data, out_size)
        except DecompressionError:
            raise
        except (IndexError, ValueError, ZeroDivisionError, OverflowError) as exc:
            raise DecompressionError(f"corrupt Quantum data ({type(exc).__name__}: {exc})") from exc

    def _bits(self, count: int) -> int:
        value = 0
        while count:
            if not self._bc:
                if self._pos >= len(self._data):
                    raise DecompressionError("Quantum frame needs more bits than its data block holds")
                self._bb = self._data[self._pos]
                self._pos += 1
                self._bc = 8
            take = min(count, self._bc)
            self._bc -= take
            value = (value << take) | ((self._bb >> self._bc) & ((1 << take) - 1))
            count -= take
        return value

    def _symbol(self, model: _Model) -> int:
        cf = model.cumfreq
        h, lo, c = self._h, self._l, self._c
        rng = ((h - lo) & 0xFFFF) + 1
        num = (c - lo + 1) * cf[0] - 1
        target = (num // rng if num >= 0 else _cdiv(num, rng)) & 0xFFFF
        i = 1
        entries = model.entries
        while i < entries and cf[i] > target:
            i += 1
        symbol = model.symbols[i - 1]
        rng = h - lo + 1
        total = cf[0]
        if rng > 0:
            h = (lo + (cf[i - 1] * rng) // total - 1) & 0xFFFF
            lo = (lo + (cf[i] * rng) // total) & 0xFFFF
        else:  # corrupt state: follow C's truncating division
            h = (lo + _cdiv(cf[i - 1] * rng, total) - 1) & 0xFFFF
            lo = (lo + _cdiv(cf[i] * rng, total)) & 0xFFFF
        cf[:i] = [f + 8 for f in cf[:i]]
        if cf[0] > 3800:
            model.rescale()
        bb, bc = self._bb, self._bc
        while True:
            if (lo & 0x8000) != (h & 0x8000):
                if (lo & 0x4000) and not (h & 0x4000):
                    c ^= 0x4000
                    lo &= 0x3FFF
                    h |= 0x4000
                else:
                    break
            lo = (lo << 1) & 0xFFFF
            h = ((h << 1) | 1) & 0xFFFF
            if not bc:
                pos = self._pos
                if pos >= len(self._data):
                    raise DecompressionError("Quantum frame needs more bits than its data block holds")
                bb = self._data[pos]
                self._pos = pos + 1
                bc = 8
            bc -= 1
            c = ((c << 1) | ((bb >> bc) & 1)) & 0xFFFF
        self._bb, self._bc = bb, bc
        self._h, self._l, self._c = h, lo, c
        return symbol

    def _decode(self, data: bytes, out_size: int) -> bytes:
        if not 0 < out_size <= FRAME_SIZE:
            raise DecompressionError(f"Quantum frame size {out_size} is not in 1..{FRAME_SIZE}")
        if self._short_frame_seen:
            raise DecompressionError("Quantum data continues after a short (final) frame")
        if out_size < FRAME_SIZE:
            self._short_frame_seen = True
        # libmspack's cabinet reader appends 0xFF after each block and pads the
        # end of input with two zero bytes; the coder may read into them.
        self._data = bytes(data) + b"\xff\x00\x00"
        self._pos = self._bb = self._bc = 0
        self._h, self._l = 0xFFFF, 0
        self._c = self._bits(16)

        hist = self._history
        start = len(hist)
        end = start + out_size
        symbol = self._symbol
        bits = self._bits
        while len(hist) < end:
            selector = symbol(self._model7)
            if selector < 4:
                hist.append(symbol(self._literal[selector]))
                continue
            if selector == 4:
                slot = symbol(self._model4)
                offset = POSITION_BASE[slot] + bits(EXTRA_BITS[slot]) + 1
                length = 3
            elif selector == 5:
                slot = symbol(self._model5)
                offset = POSITION_BASE[slot] + bits(EXTRA_BITS[slot]) + 1
                length = 4
            elif selector == 6:
                slot = symbol(self._model6len)
                length = LENGTH_BASE[slot] + bits(LENGTH_EXTRA[slot]) + 5
                slot = symbol(self._model6)
                offset = POSITION_BASE[slot] + bits(EXTRA_BITS[slot]) + 1
            else:
                raise DecompressionError(f"invalid Quantum selector {selector}")
            here = len(hist)
            if here + length > end:
                raise DecompressionError("Quantum match runs past the end of its frame")
            if offset > self._wsize or offset > self._total + (here - start):
                raise DecompressionError(f"Quantum match offset {offset} reaches before the start of the data")
            src = here - offset
            if offset >= length:
                hist += hist[src : src + length]
            else:
                hist += (hist[src:here] * (length // offset + 1))[:length]
        out = bytes(hist[start:end])
        self._total += out_size
        if len(hist) > 2 * self._wsize + FRAME_SIZE:
            del hist[: len(hist) - self._wsize]
        return out
