"""Windows codepages used by string pools and summary information."""
from __future__ import annotations

import codecs

from msitools.base._pymsi import codec_for_codepage

# Codepages common in MSI packages; anything else is looked up in pymsi's table.
_EXTRA = {
    932: "cp932",
    936: "gbk",
    949: "cp949",
    950: "cp950",
    1250: "cp1250",
    1251: "cp1251",
    1252: "cp1252",
    1253: "cp1253",
    1254: "cp1254",
    1255: "cp1255",
    1256: "cp1256",
    1257: "cp1257",
    1258: "cp1258",
    65001: "utf-8",
    437: "cp437",
    850: "cp850",
    852: "cp852",
    866: "cp866",
    874: "cp874",
    1200: "utf-16-le",
    20932: "euc_jp",
    50220: "iso2022_jp",
    51932: "euc_jp",
    54936: "gb18030",
}

NEUTRAL = 0
DEFAULT_CODEC = "cp1252"


def codec_name(codepage: int) -> str:
    """The Python codec for *codepage*; neutral (0) and unknown pages read as cp1252.

    Unknown codepages fall back to cp1252 (what Windows does on a Western
    system); :func:`is_known` tells the caller whether that happened.
    """
    if codepage == NEUTRAL:
        return DEFAULT_CODEC
    name = _EXTRA.get(codepage) or codec_for_codepage(codepage)
    if not name:
        return DEFAULT_CODEC
    try:
        codecs.lookup(name)
    except LookupError:
        return DEFAULT_CODEC
    return name


def is_known(codepage: int) -> bool:
    return codepage == NEUTRAL or bool(_EXTRA.get(codepage) or codec_for_codepage(codepage))


def decode(data: bytes, codepage: int) -> str:
    """Decode bytes in *codepage*; undecodable bytes become U+FFFD rather than failing."""
    name = codec_name(codepage)
    try:
        return data.decode(name)
    except UnicodeDecodeError:
        if codepage == NEUTRAL:
            return data.decode("latin-1")
        return data.decode(name, errors="replace")


def encode(text: str, codepage: int) -> bytes:
    return text.encode(codec_name(codepage))


def encode_lossless(text: str, codepage: int) -> bytes:
    """Encode for an IDT file: the codepage if it can hold the text, else UTF-8."""
    try:
        return text.encode(codec_name(codepage))
    except UnicodeEncodeError:
        return text.encode("utf-8")
