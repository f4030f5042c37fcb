"""The spool holds a payload file's bytes once: in memory up to its threshold, then in a temporary file."""
from __future__ import annotations

import hashlib

import pytest

from msitools.errors import LimitExceeded
from msitools.payload.spool import Spool


@pytest.mark.parametrize("in_memory", [0, 5, 10, 11, 1 << 20])
@pytest.mark.parametrize("pieces", [[], [b""], [b"0123456789"], [b"01234", b"56789"], [b"0", b"123", b"456789"]])
def test_the_bytes_come_back_whole_whether_in_memory_or_on_disk(pieces, in_memory):
    data = b"".join(pieces)
    with Spool(iter(pieces), in_memory=in_memory) as spool:
        assert (spool.size, spool.sha256, spool.sha1) == (len(data), hashlib.sha256(data).hexdigest(),
                                                          hashlib.sha1(data).hexdigest())
        for _ in range(2):  # read again and again
            assert spool.head(4) == data[:4] and spool.head(100) == data
            assert spool.read(100) == data
            assert b"".join(spool.chunks(3)) == data and all(len(c) <= 3 for c in spool.chunks(3))
            assert b"".join(spool.chunks()) == data
            fh = spool.fileobj()
            assert fh.read(2) == data[:2] and spool.fileobj().read() == data
        if data:
            with pytest.raises(LimitExceeded):
                spool.read(len(data) - 1)


def test_a_closed_spool_refuses_to_be_read():
    spool = Spool([b"abc"])
    spool.close()
    for use in (lambda: spool.head(1), lambda: spool.read(10), lambda: list(spool.chunks()), spool.fileobj):
        with pytest.raises(ValueError, match="closed"):
            use()


def test_a_failing_source_leaves_nothing_open():
    def broken():
        yield b"x" * 10
        raise OSError("disk gone")

    with pytest.raises(OSError):
        Spool(broken(), in_memory=4)
