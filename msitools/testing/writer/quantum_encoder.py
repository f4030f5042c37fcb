"""A small Quantum encoder, for test fixtures only (see :mod:`.quantum` for the format).

Greedy LZ77 matching (3-byte hash chains of depth 1) over the arithmetic coder
that :class:`.quantum.QuantumDecoder` inverts.  Two details make Quantum
awkward to encode:

* raw extra bits are read by the decoder *between* the arithmetic coder's
  shift bits, at positions that depend on arithmetic bits not yet known, so
  the encoder records the decoder's read order (a list of "arithmetic bit n"
  or "raw bit") and fills it in once the frame is finished;
* each frame ends with the 16 + pending bits of L, so the decoder's C equals
  L after the last symbol; the frame is then padded to a byte.

Output is meant to be checked by an independent decoder (cabextract) in the
tests; it is not tuned for ratio or speed.
"""
from __future__ import annotations

from msitools.cab.quantum import (
    EXTRA_BITS,
    FRAME_SIZE,
    LENGTH_BASE,
    LENGTH_EXTRA,
    POSITION_BASE,
    _Model,
    initial_models,
)

MAX_MATCH = 259


def _slot(value: int, bases: list[int], extra: list[int]) -> tuple[int, int, int]:
    """(slot, extra value, extra bit count) such that bases[slot] + extra value == value."""
    for slot in range(len(bases) - 1, -1, -1):
        if bases[slot] <= value:
            rest = value - bases[slot]
            if rest >= 1 << extra[slot]:
                raise ValueError(f"value {value} cannot be coded")
            return slot, rest, extra[slot]
    raise ValueError(f"value {value} cannot be coded")


class QuantumEncoder:
    """Encode the frames of one Quantum folder, in order."""

    def __init__(self, window_bits: int):
        self.window_bits = window_bits
        self.wsize = 1 << window_bits
        slots = window_bits * 2
        (self._literal, self._model4, self._model5, self._model6, self._model6len,
         self._model7) = initial_models(slots)
        self._history = bytearray()
        self._heads: dict = {}

    # -- arithmetic coder -----------------------------------------------------

    def _start_frame(self) -> None:
        self._low, self._high, self._pending = 0, 0xFFFF, 0
        self._abits: list[int] = []
        self._order: list[int] = list(range(16))  # decoder read order: >= 0 arithmetic index, -1/-2 raw 0/1
        self._shifts = 0

    def _emit(self, bit: int) -> None:
        self._abits.append(bit)
        for _ in range(self._pending):
            self._abits.append(bit ^ 1)
        self._pending = 0

    def _encode(self, model: _Model, symbol: int) -> None:
        j = model.symbols.index(symbol, 0, model.entries)
        cf = model.cumfreq
        low, high = self._low, self._high
        rng = high - low + 1
        total = cf[0]
        high = (low + (cf[j] * rng) // total - 1) & 0xFFFF
        low = (low + (cf[j + 1] * rng) // total) & 0xFFFF
        for k in range(j + 1):
            cf[k] += 8
        if cf[0] > 3800:
            model.rescale()
        while True:
            if (low & 0x8000) == (high & 0x8000):
                self._emit(low >> 15)
            elif (low & 0x4000) and not (high & 0x4000):
                self._pending += 1
                low &= 0x3FFF
                high |= 0x4000
            else:
                break
            low = (low << 1) & 0xFFFF
            high = ((high << 1) | 1) & 0xFFFF
            self._order.append(16 + self._shifts)
            self._shifts += 1
        self._low, self._high = low, high

    def _raw(self, value: int, count: int) -> None:
        for shift in range(count - 1, -1, -1):
            self._order.append(-1 - ((value >> shift) & 1))

    def _finish_frame(self) -> bytes:
        low = self._low
        self._emit(low >> 15)
        for shift in range(14, -1, -1):
            self._abits.append((low >> shift) & 1)
        bits = [self._abits[i] if i >= 0 else -1 - i for i in self._order]
        bits += [0] * (-len(bits) & 7)
        out = bytearray()
        for i in range(0, len(bits), 8):
            byte = 0
            for bit in bits[i : i + 8]:
                byte = (byte << 1) | bit
            out.append(byte)
        return bytes(out)

    # -- LZ77 -----------------------------------------------------------------

    def _match(self, data: bytes, pos: int, base: int) -> tuple[int, int]:
        """(length, offset) of a match for data[pos:] against the history, or (0, 0)."""
        if pos + 3 > len(data):
            return 0, 0
        hist = self._history
        here = base + pos
        candidate = self._heads.get(bytes(data[pos : pos + 3]))
        if candidate is None:
            return 0, 0
        offset = here - candidate
        if offset > self.wsize or offset < 1:
            return 0, 0
        limit = min(MAX_MATCH, len(data) - pos)
        length = 0
        while length < limit and hist[candidate + length] == data[pos + length]:
            length += 1
        if length < 3:
            return 0, 0
        return length, offset

    def encode_frame(self, frame: bytes) -> bytes:
        """Compress one frame (at most 32768 bytes; only the last may be shorter)."""
        if not 0 < len(frame) <= FRAME_SIZE:
            raise ValueError("a Quantum frame holds 1..32768 bytes")
        self._start_frame()
        hist = self._history
        base = len(hist)
        hist += frame
        pos = 0
        while pos < len(frame):
            length, offset = self._match(frame, pos, base)
            if length >= 5:
                self._encode(self._model7, 6)
                slot, extra, count = _slot(length - 5, LENGTH_BASE, LENGTH_EXTRA)
                self._encode(self._model6len, slot)
                self._raw(extra, count)
                slot, extra, count = _slot(offset - 1, POSITION_BASE[: self._model6.entries], EXTRA_BITS)
                self._encode(self._model6, slot)
                self._raw(extra, count)
            elif length == 4 and offset - 1 < POSITION_BASE[self._model5.entries - 1] + (
                    1 << EXTRA_BITS[self._model5.entries - 1]):
                self._encode(self._model7, 5)
                slot, extra, count = _slot(offset - 1, POSITION_BASE[: self._model5.entries], EXTRA_BITS)
                self._encode(self._model5, slot)
                self._raw(extra, count)
            elif length == 3 and offset - 1 < POSITION_BASE[self._model4.entries - 1] + (
                    1 << EXTRA_BITS[self._model4.entries - 1]):
                self._encode(self._model7, 4)
                slot, extra, count = _slot(offset - 1, POSITION_BASE[: self._model4.entries], EXTRA_BITS)
                self._encode(self._model4, slot)
                self._raw(extra, count)
            else:
                byte = frame[pos]
                self._encode(self._model7, byte >> 6)
                self._encode(self._literal[byte >> 6], byte)
                length = 1
            for i in range(pos, min(pos + length, len(frame) - 2)):
                self._heads[bytes(frame[i : i + 3])] = base + i
            pos += length
        if len(hist) > 2 * self.wsize + FRAME_SIZE:
            drop = len(hist) - self.wsize
            del hist[:drop]
            self._heads = {k: v - drop for k, v in self._heads.items() if v >= drop}
        return self._finish_frame()
