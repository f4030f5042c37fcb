"""A small LZX encoder, for test fixtures only (see :mod:`.lzx` for the format).

It exists so that the decoder is exercised on what the corpus lacks (window
sizes 15-20, uncompressed blocks, odd block lengths, blocks spanning frames,
repeated offsets R0-R2, E8 translation) and so that an independent decoder
(cabextract) can check the result.  Greedy matching, one hash candidate, no
optimal parsing: correctness over ratio.

Output: one byte string per 32 KiB frame (one CFDATA block each); each frame's
bits are padded to a 16-bit boundary, as the decoder realigns per block.
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence

from msitools.cab.lzx import (
    BLOCK_ALIGNED,
    BLOCK_UNCOMPRESSED,
    BLOCK_VERBATIM,
    EXTRA_BITS,
    FRAME_SIZE,
    NUM_CHARS,
    NUM_SECONDARY_LENGTHS,
    POSITION_BASE,
    POSITION_SLOTS,
)

MAX_MATCH = 257
MIN_MATCH = 2
BLOCK_NAMES = {"verbatim": BLOCK_VERBATIM, "aligned": BLOCK_ALIGNED, "uncompressed": BLOCK_UNCOMPRESSED}


def huffman_lengths(freqs: Sequence[int], max_len: int) -> list[int]:
    """Code lengths (at most *max_len*) for *freqs*; a complete code, or all zero when unused."""
    n = len(freqs)
    lengths = [0] * n
    used = [i for i, f in enumerate(freqs) if f]
    if not used:
        return lengths
    if len(used) == 1:
        other = 0 if used[0] else 1
        lengths[used[0]] = lengths[other] = 1
        return lengths
    weights = [freqs[i] for i in used]
    while True:
        counter = itertools.count()
        heap = [(w, next(counter), [k]) for k, w in enumerate(weights)]
        heapq.heapify(heap)
        depth = [0] * len(used)
        while len(heap) > 1:
            w1, _, a = heapq.heappop(heap)
            w2, _, b = heapq.heappop(heap)
            for k in a + b:
                depth[k] += 1
            heapq.heappush(heap, (w1 + w2, next(counter), a + b))
        if max(depth) <= max_len:
            break
        weights = [(w + 1) // 2 for w in weights]  # flatten and retry
    for k, i in enumerate(used):
        lengths[i] = depth[k]
    return lengths


def canonical_codes(lengths: Sequence[int]) -> list[int]:
    """Canonical codes in (length, symbol) order, as the decoder assigns them."""
    codes = [0] * len(lengths)
    code = 0
    prev = 0
    for length, symbol in sorted((n, s) for s, n in enumerate(lengths) if n):
        code <<= length - prev
        codes[symbol] = code
        code += 1
        prev = length
    return codes


class _Bits:
    """MSB-first bits packed into 16-bit little-endian words."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value: int, count: int) -> None:
        self.acc = (self.acc << count) | (value & ((1 << count) - 1))
        self.n += count
        while self.n >= 16:
            self.n -= 16
            word = (self.acc >> self.n) & 0xFFFF
            self.out += bytes((word & 0xFF, word >> 8))
        self.acc &= (1 << self.n) - 1

    def align(self, at_least_one: bool = False) -> None:
        """Pad with zero bits to a 16-bit boundary (with 1-16 bits if *at_least_one*)."""
        pad = (16 - self.n) % 16
        if at_least_one and pad == 0:
            pad = 16
        if pad:
            self.put(0, pad)

    def raw(self, data: bytes) -> None:
        assert self.n == 0
        self.out += data

    def take(self) -> bytes:
        assert self.n == 0
        data = bytes(self.out)
        self.out.clear()
        return data


def e8_encode(data: bytearray, position: int, filesize: int) -> None:
    """The encoder side of the E8 translation for one frame (inverse of lzx._e8_translate)."""
    limit = len(data) - 10
    i = data.find(0xE8, 0, limit)
    while i >= 0:
        rel = int.from_bytes(data[i + 1 : i + 5], "little", signed=True)
        current = position + i
        if -current <= rel < filesize - current:
            stored = rel + current
        elif filesize - current <= rel < filesize:
            stored = rel - filesize
        else:
            stored = rel
        data[i + 1 : i + 5] = (stored & 0xFFFFFFFF).to_bytes(4, "little")
        i = data.find(0xE8, i + 5, limit)


class LzxEncoder:
    """Encode one folder's stream into LZX frames.

    *blocks*: an iterable of ``(kind, size)`` giving the LZX blocks in order
    (kind ``verbatim``, ``aligned`` or ``uncompressed``), cycled as needed;
    *e8_filesize*: non-zero turns the E8 translation on; *reach_back*: see
    :meth:`_parse`.
    """

    def __init__(self, window_bits: int, *, blocks: Iterable[tuple[str, int]] = (("verbatim", 32768),),
                 e8_filesize: int = 0, reach_back: bool = False):
        if window_bits not in POSITION_SLOTS:
            raise ValueError("LZX window bits must be 15..21")
        self.window_bits = window_bits
        self.wsize = 1 << window_bits
        self.slots = POSITION_SLOTS[window_bits]
        self.main_count = NUM_CHARS + 8 * self.slots
        self.blocks = list(blocks)
        self.e8_filesize = e8_filesize
        self.reach_back = reach_back

    def encode(self, stream: bytes) -> list[bytes]:
        data = bytearray(stream)
        if self.e8_filesize:
            for start in range(0, len(data), FRAME_SIZE):
                if start // FRAME_SIZE < 32768 and min(FRAME_SIZE, len(data) - start) > 10:
                    frame = data[start : start + FRAME_SIZE]
                    e8_encode(frame, start, self.e8_filesize)
                    data[start : start + FRAME_SIZE] = frame
        self.data = bytes(data)
        self.bits = _Bits()
        self.frames: list[bytes] = []
        self.frame_end = min(FRAME_SIZE, len(data))
        self.r = [1, 1, 1]
        self.main_lens = [0] * self.main_count
        self.len_lens = [0] * NUM_SECONDARY_LENGTHS
        self.heads: dict = {}
        if self.e8_filesize:
            self.bits.put(1, 1)
            self.bits.put(self.e8_filesize >> 16, 16)
            self.bits.put(self.e8_filesize & 0xFFFF, 16)
        else:
            self.bits.put(0, 1)
        pos = 0
        plan = itertools.cycle(self.blocks)
        while pos < len(data):
            kind, size = next(plan)
            size = min(size, len(data) - pos)
            if kind == "uncompressed":
                self._uncompressed(pos, size)
            else:
                self._compressed(pos, size, BLOCK_NAMES[kind])
            pos += size
        if self.bits.n or self.bits.out:
            self.bits.align()
            self.frames.append(self.bits.take())
        return self.frames

    # -- frames ---------------------------------------------------------------

    def _frame_done(self, position: int) -> None:
        """Called whenever the output position reaches the current frame's end."""
        while position >= self.frame_end and len(self.frames) * FRAME_SIZE < len(self.data):
            self.bits.align()
            self.frames.append(self.bits.take())
            self.frame_end = min(self.frame_end + FRAME_SIZE, len(self.data))

    # -- uncompressed blocks -----------------------------------------------------

    def _uncompressed(self, pos: int, size: int) -> None:
        self.bits.put(BLOCK_UNCOMPRESSED, 3)
        self.bits.put(size >> 8, 16)
        self.bits.put(size & 0xFF, 8)
        self.bits.align(at_least_one=True)
        self.bits.raw(b"".join(r.to_bytes(4, "little") for r in self.r))
        start, end = pos, pos + size
        while pos < end:
            chunk_end = min(end, self.frame_end)
            self.bits.raw(self.data[pos:chunk_end])
            pos = chunk_end
            if pos == end and size & 1:
                self.bits.raw(b"\0")  # pad byte, right after the data
            self._frame_done(pos)
        for i in range(start, min(end, len(self.data) - 2)):
            self.heads[self.data[i : i + 3]] = i

    # -- verbatim / aligned blocks ---------------------------------------------

    def _parse(self, pos: int, size: int) -> list[tuple]:
        """Greedy LZ77 parse of [pos, pos+size): ('lit', byte) or ('match', length, offset).

        With *reach_back* the stream starts with a 3-byte match at offset 1,
        which reads history that was never written: an invalid stream that
        decoders must reject (some return the window's initial zeros).
        """
        data = self.data
        end = pos + size
        items: list[tuple] = []
        if self.reach_back and pos == 0 and size >= 3:
            items.append(("match", 3, 1))
            pos = 3
        r = list(self.r)
        heads = self.heads
        while pos < end:
            frame_end = (pos // FRAME_SIZE + 1) * FRAME_SIZE
            limit = min(end, frame_end, pos + MAX_MATCH)
            best_len, best_off = 0, 0
            if limit - pos >= MIN_MATCH:
                for off in r:  # repeated offsets first
                    if off <= pos and off <= self.wsize - 3:
                        n = 0
                        while pos + n < limit and data[pos + n] == data[pos + n - off]:
                            n += 1
                        if n > best_len:
                            best_len, best_off = n, off
                cand = heads.get(data[pos : pos + 3])
                if cand is not None and 0 < pos - cand <= self.wsize - 3:
                    off = pos - cand
                    n = 0
                    while pos + n < limit and data[pos + n] == data[pos + n - off]:
                        n += 1
                    if n > best_len + 1:
                        best_len, best_off = n, off
            if best_len >= 3 or (best_len == 2 and best_off in r):
                items.append(("match", best_len, best_off))
                if best_off == r[0]:
                    pass
                elif best_off == r[1]:
                    r[0], r[1] = r[1], r[0]
                elif best_off == r[2]:
                    r[0], r[2] = r[2], r[0]
                else:
                    r = [best_off, r[0], r[1]]
                step = best_len
            else:
                items.append(("lit", data[pos]))
                step = 1
            for i in range(pos, min(pos + step, len(data) - 2)):
                heads[data[i : i + 3]] = i
            pos += step
        return items

    def _symbols(self, items: list[tuple], aligned: bool) -> list[tuple[int, int | None, int, int, int | None]]:
        """Turn the parse into (main symbol, length symbol, extra value, extra bits) tuples."""
        out: list[tuple[int, int | None, int, int, int | None]] = []
        r = self.r
        for item in items:
            if item[0] == "lit":
                out.append((item[1], None, 0, 0, None))
                continue
            _, length, off = item
            header = min(length - MIN_MATCH, 7)
            length_sym = length - MIN_MATCH - 7 if header == 7 else None
            if off == r[0]:
                slot, extra_value, extra = 0, 0, 0
            elif off == r[1]:
                slot, extra_value, extra = 1, 0, 0
                r[0], r[1] = r[1], r[0]
            elif off == r[2]:
                slot, extra_value, extra = 2, 0, 0
                r[0], r[2] = r[2], r[0]
            else:
                formatted = off + 2
                slot = next(s for s in range(self.slots - 1, 2, -1) if POSITION_BASE[s] <= formatted)
                extra = EXTRA_BITS[slot]
                extra_value = formatted - POSITION_BASE[slot]
                r[0], r[1], r[2] = off, r[0], r[1]
            aligned_sym = extra_value & 7 if aligned and extra >= 3 else None
            out.append((NUM_CHARS + slot * 8 + header, length_sym, extra_value, extra, aligned_sym))
        return out

    def _write_lengths(self, lengths: list[int], previous: list[int], first: int, last: int) -> None:
        # (pretree symbol, extra value, extra bits, second pretree symbol)
        codes: list[tuple[int, int, int, int | None]] = []
        x = first
        while x < last:
            new = lengths[x]
            run = 1
            while x + run < last and lengths[x + run] == new:
                run += 1
            if new == 0 and run >= 20:
                run = min(run, 51)
                codes.append((18, run - 20, 5, None))
            elif new == 0 and run >= 4:
                run = min(run, 19)
                codes.append((17, run - 4, 4, None))
            elif run >= 4:
                run = min(run, 5)
                codes.append((19, run - 4, 1, (previous[x] - new) % 17))
            else:
                run = 1
                codes.append(((previous[x] - new) % 17, 0, 0, None))
            x += run
        freqs = [0] * 20
        for sym, _, _, inner in codes:
            freqs[sym] += 1
            if inner is not None:
                freqs[inner] += 1
        pre_lens = huffman_lengths(freqs, 15)
        pre_codes = canonical_codes(pre_lens)
        for length in pre_lens:
            self.bits.put(length, 4)
        for sym, value, count, inner in codes:
            self.bits.put(pre_codes[sym], pre_lens[sym])
            if count:
                self.bits.put(value, count)
            if inner is not None:
                self.bits.put(pre_codes[inner], pre_lens[inner])
        previous[first:last] = lengths[first:last]

    def _compressed(self, pos: int, size: int, block_type: int) -> None:
        aligned = block_type == BLOCK_ALIGNED
        items = self._parse(pos, size)
        symbols = self._symbols(items, aligned)
        main_freq = [0] * self.main_count
        len_freq = [0] * NUM_SECONDARY_LENGTHS
        aligned_freq = [0] * 8
        for main, length_sym, _, _, aligned_sym in symbols:
            main_freq[main] += 1
            if length_sym is not None:
                len_freq[length_sym] += 1
            if aligned_sym is not None:
                aligned_freq[aligned_sym] += 1
        main_lens = huffman_lengths(main_freq, 16)
        len_lens = huffman_lengths(len_freq, 16)
        bits = self.bits
        bits.put(block_type, 3)
        bits.put(size >> 8, 16)
        bits.put(size & 0xFF, 8)
        if aligned:
            if sum(1 for f in aligned_freq if f) < 2:
                aligned_freq = [f + 1 for f in aligned_freq]  # keep the aligned tree non-trivial
            aligned_lens = huffman_lengths(aligned_freq, 7)
            aligned_codes = canonical_codes(aligned_lens)
            for length in aligned_lens:
                bits.put(length, 3)
        self._write_lengths(main_lens, self.main_lens, 0, NUM_CHARS)
        self._write_lengths(main_lens, self.main_lens, NUM_CHARS, self.main_count)
        self._write_lengths(len_lens, self.len_lens, 0, NUM_SECONDARY_LENGTHS)
        main_codes = canonical_codes(main_lens)
        len_codes = canonical_codes(len_lens)
        position = pos
        for (main, length_sym, extra_value, extra, aligned_sym), item in zip(symbols, items):
            bits.put(main_codes[main], main_lens[main])
            if length_sym is not None:
                bits.put(len_codes[length_sym], len_lens[length_sym])
            if aligned_sym is not None:
                if extra > 3:
                    bits.put(extra_value >> 3, extra - 3)
                bits.put(aligned_codes[aligned_sym], aligned_lens[aligned_sym])
            elif extra:
                bits.put(extra_value, extra)
            position += 1 if item[0] == "lit" else item[1]
            self._frame_done(position)
