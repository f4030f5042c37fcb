"""PA19 / PA30 delta headers written for fixtures (msitools.testing.writer.delta).

Expected bytes are worked out by hand from FORMATS §5 (Wine pa19.c read_uvli /
read_svli / read_header; the msdelta-pa30-format README example), and the CRC
property is checked with zlib.  Payloads are placeholders by design.
"""
from __future__ import annotations

import struct
import zlib

import pytest

from msitools.errors import UsageError
from msitools.testing.writer.delta import (
    PLACEHOLDER_PAYLOAD,
    BitWriter,
    PA19Delta,
    PA19Source,
    PA30Delta,
    crc_fixup,
    encode_svli,
    encode_uvli,
    posix_to_filetime,
)


@pytest.mark.parametrize("value, encoded", [
    (0, "80"), (1, "81"), (127, "ff"), (128, "00 81"), (300, "2c 82"), (2048, "00 90"),
    (16383, "7f ff"), (16384, "00 00 81"),
])
def test_uvli_is_little_endian_7_bit_groups_ending_with_bit_7(value, encoded):
    assert encode_uvli(value) == bytes.fromhex(encoded)


@pytest.mark.parametrize("value, encoded", [
    (0, "80"), (5, "85"), (-5, "c5"), (63, "bf"), (-63, "ff"), (64, "00 81"), (-64, "40 81"),
    (100, "24 81"), (-512, "40 88"),
])
def test_svli_keeps_the_sign_in_bit_6_of_the_first_byte(value, encoded):
    assert encode_svli(value) == bytes.fromhex(encoded)


def test_vli_rejects_what_it_cannot_hold():
    with pytest.raises(UsageError):
        encode_uvli(-1)
    with pytest.raises(UsageError):
        encode_uvli(1 << 63)     # 9 groups of 7 bits hold 63 bits


@pytest.mark.parametrize("data", [b"", b"a", b"PA19 header", bytes(range(256)) * 3])
def test_crc_fixup_makes_the_whole_crc_all_ones(data):
    assert zlib.crc32(data + crc_fixup(data)) == 0xFFFFFFFF


def test_pa19_minimal_layout():
    new, old = b"new file!", b"old"
    delta = PA19Delta.between(old, new)
    data = delta.to_bytes()
    options = 0x00000002 | 0x00010000 | 0x00020000 | 0x00400000 | 0x00040000  # LZX_B|NO_BINDFIX|NO_LOCKFIX|NO_RESTIMEFIX|NO_REBASE
    expected_header = (b"PA19" + struct.pack("<I", options)
                       + b"\x89"                                  # new size 9
                       + struct.pack("<I", zlib.crc32(new))
                       + b"\x01"                                  # one old file
                       + b"\xc6"                                  # size delta 3 - 9 = -6
                       + struct.pack("<I", zlib.crc32(old))
                       + b"\x00\x00"                              # no ignore / retain ranges
                       + b"\x80"                                  # no special processing
                       + bytes([0x80 | len(PLACEHOLDER_PAYLOAD)]))  # compressed size
    assert len(PLACEHOLDER_PAYLOAD) < 128
    assert data[:len(expected_header)] == expected_header
    assert data[len(expected_header):-4] == PLACEHOLDER_PAYLOAD
    assert zlib.crc32(data) == 0xFFFFFFFF
    extract = delta.header_extract()
    assert extract[:-4] == expected_header
    assert zlib.crc32(extract) == 0xFFFFFFFF


def test_pa19_optional_fields_in_order():
    delta = PA19Delta(new_size=0x1234, new_crc32=0xDEADBEEF, sources=(PA19Source(0x1000, 0x01020304, b"xy"),),
                      options=0x1, timestamp=0x4F4F3388, rebase=0x10000000, extended_options=0x55)
    data = delta.to_bytes()
    assert data[:4] == b"PA19"
    assert struct.unpack_from("<I", data, 4)[0] == 0x80800001   # EXTENDED | timestamp-present | LZX_A, NO_REBASE clear
    assert struct.unpack_from("<II", data, 8) == (0x55, 0x4F4F3388)
    rest = data[16:]
    # rebase 0x10000000 = 2^28: groups 0,0,0,0,1 -> 00 00 00 00 81
    assert rest[:5] == bytes.fromhex("00 00 00 00 81")
    # new size 0x1234 = 4660 = 36*128 + 52 -> 34 a4
    assert rest[5:7] == bytes.fromhex("34 a4")
    assert struct.unpack_from("<I", rest, 7)[0] == 0xDEADBEEF
    # one source: delta 4096 - 4660 = -564 = -(52 + 8*64): first byte 0x40|52 = 0x74, then 0x88
    assert rest[11:14] == bytes.fromhex("01 74 88")
    assert struct.unpack_from("<I", rest, 14)[0] == 0x01020304
    assert rest[18:23] == bytes.fromhex("00 00 80 82") + b"x"
    assert rest[22:24] == b"xy"
    assert zlib.crc32(data) == 0xFFFFFFFF


def test_pa19_ranges_and_their_crc():
    old = bytes(range(64))
    source = PA19Source.from_data(old, b"", ignore_ranges=[(10, 4), (20, 2)], retain_ranges=[(30, 40, 5)])
    zeroed = bytearray(old)
    for start, length in ((10, 4), (20, 2), (30, 5)):
        zeroed[start:start + length] = bytes(length)
    assert source.crc32 == zlib.crc32(bytes(zeroed))
    header = PA19Delta(64, 0, (source,)).header()
    # ignore: 2 ranges (offset 10, length 4), (offset 20 = 6 after the previous end, length 2)
    # retain: 1 range (old offset 30, new - old = 10, length 5); then rift 0 and compressed size 0
    assert header.endswith(bytes.fromhex("02 8a 84 86 82 01 9e 8a 85 80 80"))


def test_pa30_readme_example_and_hand_built_header():
    bits = BitWriter()
    bits.write_number(14)
    bits.write_number(17)
    bits.write_buffer(b"")
    assert bits.to_bytes()[:2] == bytes.fromhex("e8 46")   # msdelta-pa30-format README example

    filetime = 0x01CD456789ABCDEF
    delta = PA30Delta(target_size=5, target_file_time=filetime, target_hash=b"", target_hash_alg=0,
                      file_type_set=0xF, file_type=1, flags=0, preprocess=b"", payload=b"P")
    # pad 000 | 1 1111 | 1 1000 | 1 0000 | 1 1010 | 1 0000 | hash len 1 0000 align | 1 0000 align | 1 1000 align | P
    assert delta.to_bytes() == b"PA30" + struct.pack("<Q", filetime) + bytes.fromhex("f8 23 ac 10 00 01 03") + b"P"


def test_pa30_for_target_carries_size_and_md5():
    import hashlib

    new = b"new config" * 10
    delta = PA30Delta.for_target(new, posix_to_filetime(0))
    data = delta.to_bytes()
    assert data[:4] == b"PA30"
    assert struct.unpack_from("<Q", data, 4)[0] == 116444736000000000
    assert hashlib.md5(new).digest() in data
    assert data.endswith(PLACEHOLDER_PAYLOAD)
