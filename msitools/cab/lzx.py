"""LZX decompression, cabinet flavour (FORMATS.md §6.3; libmspack ``lzxd.c`` as description).

Format summary (window 2^15..2^21 bytes, set by CFFOLDER.typeCompress bits 8-12):

* The bit stream is made of 16-bit little-endian words read most significant
  bit first.  The decoder state (window, Huffman code lengths, repeated
  offsets R0-R2, current LZX block) persists across the CFDATA blocks of a
  folder; each CFDATA block carries one 32 KiB *frame* of output (the last one
  may be shorter) and its bits start afresh at the block's first byte.
* Stream header (first frame only): 1 bit; if set, a 32-bit "Intel file size"
  that enables E8 call translation.
* LZX block header: 3 bits type (1 verbatim, 2 aligned offset, 3 uncompressed),
  24 bits uncompressed length.  Aligned blocks then have 8 x 3-bit aligned
  tree lengths; verbatim and aligned blocks have the main tree (256 literals +
  8 x position slots) and the length tree (249), each sent as deltas to the
  previous lengths through a 20-symbol pretree.  Uncompressed blocks realign
  to 16 bits (1-16 bits of padding), store R0, R1, R2 as 3 x u32 and the raw
  bytes, plus one pad byte when the length is odd.
* Main symbol < 256: literal.  Otherwise ``sym - 256`` = slot << 3 | length
  header; length header 7 means "add a length-tree symbol"; match length =
  that + 2.  Slots 0-2 reuse R0/R1/R2 (with swaps); other slots carry
  ``extra_bits[slot]`` extra offset bits (aligned blocks send the low 3 of
  them through the aligned tree) and offset = position_base[slot] - 2 + extra.
* Matches never cross a frame or block boundary.  After each frame, if the
  Intel file size is non-zero and fewer than 32768 frames were output,
  ``E8 xx xx xx xx`` sequences (outside the frame's last 10 bytes) holding an
  absolute offset in [-position, filesize) are turned back into relative ones.

Speed: Huffman codes are decoded with one 16-bit table look-up whose entry
holds symbol << 5 | code length (tables are rebuilt per LZX block), the bit buffer is refilled 32 bits at a time from a
pre-swapped ``array``, the hot loop keeps everything in local variables and
copies matches with slice assignment on a ``bytearray`` window.
"""
from __future__ import annotations

import sys
from array import array

from msitools.errors import DecompressionError

FRAME_SIZE = 32768
NUM_CHARS = 256
NUM_SECONDARY_LENGTHS = 249
PRETREE_SYMBOLS = 20
ALIGNED_SYMBOLS = 8
MIN_MATCH = 2

BLOCK_VERBATIM = 1
BLOCK_ALIGNED = 2
BLOCK_UNCOMPRESSED = 3

# number of position slots per window size (MS implementation; libmspack comment)
POSITION_SLOTS = {15: 30, 16: 32, 17: 34, 18: 36, 19: 38, 20: 42, 21: 50}

# extra_bits[i] = 0 for i < 4, i//2 - 1 up to 16, then 17
EXTRA_BITS = [0, 0, 0, 0] + [i // 2 - 1 for i in range(4, 36)] + [17] * (50 - 36)
POSITION_BASE = [0] * 50
for _i in range(1, 50):
    POSITION_BASE[_i] = POSITION_BASE[_i - 1] + (1 << EXTRA_BITS[_i - 1])
del _i
_BASE_M2 = [base - 2 for base in POSITION_BASE]

_MASKS = [(1 << n) - 1 for n in range(65)]
_TABLE_BITS = 16
_ALIGNED_BITS = 7
_LITTLE = sys.byteorder == "little"
_WORD = "I" if array("I").itemsize == 4 else "L"


def build_table(lengths: list[int], bits: int, what: str) -> list[int] | None:
    """Canonical Huffman decode table: index = next *bits* bits, value = symbol << 5 | length.

    Codes are assigned in order of (length, symbol), so each code of length L
    covers a contiguous run of 2**(bits-L) table entries.  Returns None when
    every length is zero; raises on an over-subscribed or incomplete code.
    """
    order = sorted((length, symbol) for symbol, length in enumerate(lengths) if length)
    if not order:
        return None
    table: list[int] = []
    for length, symbol in order:
        if length > bits:
            raise DecompressionError(f"LZX {what} code length {length} is too long")
        table += [(symbol << 5) | length] * (1 << (bits - length))
    if len(table) != 1 << bits:
        state = "over-subscribed" if len(table) > 1 << bits else "incomplete"
        raise DecompressionError(f"LZX {what} Huffman code is {state}")
    return table


class LzxDecoder:
    """Decode the CFDATA blocks of one LZX folder, in order.

    Call :meth:`decode` once per (joined) CFDATA block with its cbUncomp.
    """

    def __init__(self, window_bits: int):
        if window_bits not in POSITION_SLOTS:
            raise DecompressionError(f"LZX window size 2^{window_bits} is not supported (15..21)")
        self.window_bits = window_bits
        self._wsize = 1 << window_bits
        self._window = bytearray(self._wsize)
        self._wpos = 0
        self._main_count = NUM_CHARS + POSITION_SLOTS[window_bits] * 8
        self._main_lens = [0] * self._main_count
        self._len_lens = [0] * NUM_SECONDARY_LENGTHS
        self._aligned_lens = [0] * ALIGNED_SYMBOLS
        self._main_table: list[int] | None = None
        self._len_table: list[int] | None = None
        self._aligned_table: list[int] | None = None
        self._r = (1, 1, 1)
        self._header_read = False
        self._intel_filesize = 0
        self._block_type = 0
        self._block_length = 0
        self._block_remaining = 0
        self._pad_consumed = False
        self._total = 0  # bytes output so far
        self._short_frame_seen = False
        # per-call input
        self._data = b""
        self._words: array[int] = array(_WORD)
        self._bb = 0
        self._bc = 0
        self._wi = 0
        self._base = 0
        self._raw = False
        self._raw_pos = 0

    # -- public ---------------------------------------------------------------

    def decode(self, data: bytes, out_size: int) -> bytes:
        """Decode one frame of *out_size* (1..32768) bytes from one CFDATA block's data.

        Raises:
            DecompressionError: the data is corrupt or does not fit the declared size.
        """
        try:
            return self._decode(data, out_size)
        except DecompressionError:
            raise
        except (IndexError, ValueError, OverflowError, TypeError) as exc:
            raise DecompressionError(f"corrupt LZX data ({type(exc).__name__}: {exc})") from exc

    # -- bit input ------------------------------------------------------------

    def _set_input(self, data: bytes) -> None:
        self._data = bytes(data)
        self._load_words(0)

    def _load_words(self, start: int) -> None:
        """Bit input from byte *start* on: 16-bit LE words read MSB first, as
        big-endian u32s of the pair-swapped bytes (a word may start at an odd
        offset after an uncompressed block, so the array is rebuilt from there)."""
        raw = self._data[start:]
        padded = raw + b"\x00" * (8 + (-len(raw) & 3))
        swapped = bytearray(len(padded))
        swapped[0::2] = padded[1::2]
        swapped[1::2] = padded[0::2]
        words = array(_WORD, swapped)
        if _LITTLE:
            words.byteswap()
        self._words = words
        self._base = start
        self._bb = self._bc = self._wi = 0

    def _bits(self, count: int) -> int:
        bc = self._bc
        if bc < count:
            self._bb = ((self._bb & _MASKS[bc]) << 32) | self._words[self._wi]
            self._wi += 1
            bc += 32
        bc -= count
        self._bc = bc
        return (self._bb >> bc) & _MASKS[count]

    def _symbol(self, table: list[int]) -> int:
        bc = self._bc
        if bc < _TABLE_BITS:
            self._bb = ((self._bb & _MASKS[bc]) << 32) | self._words[self._wi]
            self._wi += 1
            bc += 32
        entry = table[(self._bb >> (bc - _TABLE_BITS)) & 0xFFFF]
        self._bc = bc - (entry & 31)
        return entry >> 5

    def _bit_position(self) -> int:
        return self._base * 8 + self._wi * 32 - self._bc

    def _seek_byte(self, pos: int) -> None:
        """Resume bit reading at byte *pos* of the current input."""
        rel = pos - self._base
        if rel < 0 or rel & 1:
            self._load_words(pos)
            return
        self._wi = rel >> 2
        self._bb = self._bc = 0
        if rel & 3:
            self._bc = 16
            self._bb = self._words[self._wi] & 0xFFFF
            self._wi += 1

    # -- trees ----------------------------------------------------------------

    def _read_lengths(self, lengths: list[int], first: int, last: int) -> None:
        pre_lens = [self._bits(4) for _ in range(PRETREE_SYMBOLS)]
        pre = build_table(pre_lens, _TABLE_BITS, "pretree")
        if pre is None:
            raise DecompressionError("LZX pretree is empty")
        x = first
        while x < last:
            z = self._symbol(pre)
            if z == 17:
                run = self._bits(4) + 4
                value = -1
            elif z == 18:
                run = self._bits(5) + 20
                value = -1
            elif z == 19:
                run = self._bits(1) + 4
                z = self._symbol(pre)
                if z > 16:
                    raise DecompressionError("LZX pretree run repeats a run code")
                value = z
            else:
                lengths[x] = (lengths[x] - z) % 17
                x += 1
                continue
            # libmspack lets a run overflow the range; the entries past the
            # array end are dropped and the loop ends.
            end = min(x + run, len(lengths))
            if value < 0:
                lengths[x:end] = [0] * (end - x)
            else:
                new = (lengths[x] - value) % 17
                lengths[x:end] = [new] * (end - x)
            x += run

    def _read_block_header(self) -> None:
        if self._raw:
            if self._block_length & 1 and not self._pad_consumed:
                self._raw_pos += 1  # the pad byte after an odd-sized uncompressed block
            self._raw = False
            self._seek_byte(self._raw_pos)
        self._pad_consumed = False
        block_type = self._bits(3)
        length = (self._bits(16) << 8) | self._bits(8)
        if block_type == BLOCK_ALIGNED:
            self._aligned_lens = [self._bits(3) for _ in range(ALIGNED_SYMBOLS)]
            self._aligned_table = build_table(self._aligned_lens, _ALIGNED_BITS, "aligned offset tree")
            if self._aligned_table is None:
                raise DecompressionError("LZX aligned offset tree is empty")
        if block_type in (BLOCK_VERBATIM, BLOCK_ALIGNED):
            self._read_lengths(self._main_lens, 0, NUM_CHARS)
            self._read_lengths(self._main_lens, NUM_CHARS, self._main_count)
            self._main_table = build_table(self._main_lens, _TABLE_BITS, "main tree")
            if self._main_table is None:
                raise DecompressionError("LZX main tree is empty")
            self._read_lengths(self._len_lens, 0, NUM_SECONDARY_LENGTHS)
            self._len_table = build_table(self._len_lens, _TABLE_BITS, "length tree")
        elif block_type == BLOCK_UNCOMPRESSED:
            pos = self._wi * 32 - self._bc  # bits read since the current word stream began
            pos += 16 - (pos & 15)  # 1..16 bits of padding up to a 16-bit boundary
            start = self._base + (pos >> 3)
            stored = self._data[start : start + 12]
            if len(stored) != 12:
                raise DecompressionError("LZX uncompressed block header runs past the end of the data block")
            self._r = (
                int.from_bytes(stored[0:4], "little"),
                int.from_bytes(stored[4:8], "little"),
                int.from_bytes(stored[8:12], "little"),
            )
            self._raw = True
            self._raw_pos = start + 12
        else:
            raise DecompressionError(f"invalid LZX block type {block_type}")
        self._block_type = block_type
        self._block_length = self._block_remaining = length

    # -- frames ---------------------------------------------------------------

    def _decode(self, data: bytes, out_size: int) -> bytes:
        if not 0 < out_size <= FRAME_SIZE:
            raise DecompressionError(f"LZX frame size {out_size} is not in 1..{FRAME_SIZE}")
        if self._short_frame_seen:
            raise DecompressionError("LZX data continues after a short (final) frame")
        if out_size < FRAME_SIZE:
            self._short_frame_seen = True
        self._set_input(data)
        self._raw_pos = 0
        if not self._header_read:
            if self._bits(1):
                high = self._bits(16)
                self._intel_filesize = (high << 16) | self._bits(16)
            self._header_read = True

        frame_start = self._wpos
        frame_end = frame_start + out_size
        while self._wpos < frame_end:
            if self._block_remaining == 0:
                self._read_block_header()
                continue
            run = min(self._block_remaining, frame_end - self._wpos)
            before = self._wpos
            if self._raw:
                chunk = self._data[self._raw_pos : self._raw_pos + run]
                if len(chunk) != run:
                    raise DecompressionError("LZX uncompressed block runs past the end of the data block")
                self._window[before : before + run] = chunk
                self._raw_pos += run
                self._wpos = before + run
            else:
                self._run(before + run, frame_start)
            self._block_remaining -= self._wpos - before

        if self._raw:
            if self._block_remaining == 0 and self._block_length & 1 and self._raw_pos < len(self._data):
                # the pad byte after an odd-sized uncompressed block ending with
                # the frame follows the data in this block (libmspack reads the
                # input as one stream); otherwise it starts the next block.
                self._raw_pos += 1
                self._pad_consumed = True
            self._raw_pos = 0
        elif self._bit_position() > (len(self._data) + 2) * 8:
            raise DecompressionError("LZX frame needs more bits than its data block holds")

        out = self._window[frame_start:frame_end]
        if self._intel_filesize and self._total < FRAME_SIZE * 32768 and out_size > 10:
            _e8_translate(out, self._total, self._intel_filesize)
        self._total += out_size
        if frame_end == self._wsize:
            self._wpos = 0
        return bytes(out)

    def _run(self, limit: int, frame_start: int) -> None:
        """Decode verbatim/aligned symbols until the window position reaches *limit*."""
        win = self._window
        wpos = self._wpos
        bb = self._bb
        bc = self._bc
        wi = self._wi
        words = self._words
        mtab = self._main_table
        ltab = self._len_table
        atab = self._aligned_table
        aligned = self._block_type == BLOCK_ALIGNED
        r0, r1, r2 = self._r
        extra_bits = EXTRA_BITS
        base_m2 = _BASE_M2
        masks = _MASKS
        wsize = self._wsize
        # bytes output before window position 0 of this frame's run
        produced_before = self._total - frame_start
        if mtab is None:
            raise DecompressionError("LZX block has no main tree")
        if atab is None:
            if aligned:
                raise DecompressionError("LZX aligned block has no aligned offset tree")
            atab = []  # verbatim blocks never consult the aligned tree
        try:
            while wpos < limit:
                if bc < 16:
                    bb = ((bb << 32) | words[wi]) & 0xFFFFFFFFFFFFF
                    wi += 1
                    bc += 32
                sym = mtab[(bb >> (bc - 16)) & 0xFFFF]
                bc -= sym & 31
                sym >>= 5
                if sym < 256:
                    win[wpos] = sym
                    wpos += 1
                    continue
                sym -= 256
                length = sym & 7
                if length == 7:
                    if ltab is None:
                        raise DecompressionError("LZX length symbol needed but the length tree is empty")
                    if bc < 16:
                        bb = ((bb << 32) | words[wi]) & 0xFFFFFFFFFFFFF
                        wi += 1
                        bc += 32
                    extra = ltab[(bb >> (bc - 16)) & 0xFFFF]
                    bc -= extra & 31
                    length += extra >> 5
                length += 2
                slot = sym >> 3
                if slot > 2:
                    extra = extra_bits[slot]
                    off = base_m2[slot]
                    if aligned and extra >= 3:
                        if extra > 3:
                            extra -= 3
                            if bc < extra:
                                bb = ((bb << 32) | words[wi]) & 0xFFFFFFFFFFFFF
                                wi += 1
                                bc += 32
                            bc -= extra
                            off += ((bb >> bc) & masks[extra]) << 3
                        if bc < 7:
                            bb = ((bb << 32) | words[wi]) & 0xFFFFFFFFFFFFF
                            wi += 1
                            bc += 32
                        sym = atab[(bb >> (bc - 7)) & 0x7F]
                        bc -= sym & 31
                        off += sym >> 5
                    elif extra:
                        if bc < extra:
                            bb = ((bb << 32) | words[wi]) & 0xFFFFFFFFFFFFF
                            wi += 1
                            bc += 32
                        bc -= extra
                        off += (bb >> bc) & masks[extra]
                    r2 = r1
                    r1 = r0
                    r0 = off
                elif slot == 0:
                    off = r0
                elif slot == 1:
                    off = r1
                    r1 = r0
                    r0 = off
                else:
                    off = r2
                    r2 = r0
                    r0 = off
                end = wpos + length
                if end > limit:
                    raise DecompressionError("LZX match runs past the end of its block or frame")
                src = wpos - off
                if src >= 0 and off:
                    if off >= length:
                        win[wpos:end] = win[src : src + length]
                    elif off == 1:
                        win[wpos:end] = win[src : src + 1] * length
                    else:
                        win[wpos:end] = (win[src:wpos] * (length // off + 1))[:length]
                else:
                    if off == 0 or off > wsize or off > produced_before + wpos:
                        raise DecompressionError(f"LZX match offset {off} reaches before the start of the data")
                    src += wsize
                    if src + length <= wsize:
                        win[wpos:end] = win[src : src + length]
                    else:
                        first = wsize - src
                        win[wpos : wpos + first] = win[src:wsize]
                        rest = length - first
                        if rest <= wpos:
                            win[wpos + first : end] = win[0:rest]
                        else:  # overlapping the bytes just copied
                            for i in range(wpos + first, end):
                                win[i] = win[i - off + wsize if i - off < 0 else i - off]
                wpos = end
        finally:
            self._wpos = wpos
            self._bb = bb
            self._bc = bc
            self._wi = wi
            self._r = (r0, r1, r2)


def _e8_translate(buf: bytearray, position: int, filesize: int) -> None:
    """Undo the encoder's x86 CALL translation in one frame, in place."""
    limit = len(buf) - 10
    i = buf.find(0xE8, 0, limit)
    while i >= 0:
        value = int.from_bytes(buf[i + 1 : i + 5], "little", signed=True)
        current = position + i
        if -current <= value < filesize:
            rel = value - current if value >= 0 else value + filesize
            buf[i + 1 : i + 5] = (rel & 0xFFFFFFFF).to_bytes(4, "little")
        i = buf.find(0xE8, i + 5, limit)
