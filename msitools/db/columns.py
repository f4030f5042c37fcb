"""Column type words (the ``_Columns.Type`` value) and their cell encodings.

Bits (msdocs _TransformView; Wine MSITYPE_*): 0-7 width, 0x100 valid/persistent,
0x200 localizable, 0x400 short int, 0x800 string/binary, 0x1000 nullable,
0x2000 primary key, 0x4000 temporary.
"""
from __future__ import annotations

from dataclasses import dataclass

WIDTH_MASK = 0x00FF
VALID = 0x0100
LOCALIZABLE = 0x0200
SHORT_INT = 0x0400
STRING = 0x0800
NULLABLE = 0x1000
KEY = 0x2000
TEMPORARY = 0x4000

KIND_INT = "integer"
KIND_STRING = "string"
KIND_BINARY = "binary"

NULL_I2 = 0x0000
NULL_I4 = 0x00000000


def kind_of(type_word: int) -> str:
    """Classify exactly as Windows Installer/Wine do (MSITYPE_IS_BINARY)."""
    if (type_word & ~NULLABLE & 0xFFFF) == (STRING | VALID):
        return KIND_BINARY
    if type_word & STRING:
        return KIND_STRING
    return KIND_INT


@dataclass(frozen=True)
class Column:
    """One column of a table schema."""

    name: str
    type_word: int
    number: int = 0  # 1-based position (0 when unknown)

    @property
    def kind(self) -> str:
        return kind_of(self.type_word)

    @property
    def width(self) -> int:
        return self.type_word & WIDTH_MASK

    @property
    def nullable(self) -> bool:
        return bool(self.type_word & NULLABLE)

    @property
    def key(self) -> bool:
        return bool(self.type_word & KEY)

    @property
    def localizable(self) -> bool:
        return bool(self.type_word & LOCALIZABLE)

    @property
    def is_string(self) -> bool:
        return self.kind == KIND_STRING

    @property
    def is_binary(self) -> bool:
        return self.kind == KIND_BINARY

    @property
    def is_int(self) -> bool:
        return self.kind == KIND_INT

    def cell_size(self, string_ref_size: int) -> int:
        """Bytes one cell of this column takes in a table or transform stream."""
        kind = self.kind
        if kind == KIND_STRING:
            return string_ref_size
        if kind == KIND_BINARY:
            return 2
        return 4 if self.width == 4 else 2

    @property
    def idt_type(self) -> str:
        """The IDT archive notation: s72, S0, l255, i2, I4, v0 ..."""
        kind = self.kind
        if kind == KIND_BINARY:
            letter = "v"
        elif kind == KIND_STRING:
            letter = "l" if self.localizable else "s"
        else:
            letter = "i"
        if self.nullable:
            letter = letter.upper()
        width = self.width
        if kind == KIND_INT:
            width = 4 if width == 4 else 2
        return f"{letter}{width}"

    @property
    def type_name(self) -> str:
        """Human/JSON type name: 'string', 'integer' (i2/i4) or 'binary'."""
        if self.is_int:
            return "i4" if self.width == 4 else "i2"
        return self.kind

    def describe(self) -> dict:
        return {
            "name": self.name,
            "type": self.type_name,
            "idt": self.idt_type,
            "width": self.width,
            "nullable": self.nullable,
            "key": self.key,
            "localizable": self.localizable,
            "type_word": self.type_word,
        }


def type_word_from_idt(spec: str, key: bool = False) -> int:
    """Inverse of :attr:`Column.idt_type` (used by the writer and tests)."""
    letter, width = spec[0], int(spec[1:] or 0)
    word = VALID
    if letter.isupper():
        word |= NULLABLE
    lower = letter.lower()
    if lower == "s":
        word |= STRING | SHORT_INT | (width & WIDTH_MASK)
    elif lower == "l":
        word |= STRING | SHORT_INT | LOCALIZABLE | (width & WIDTH_MASK)
    elif lower == "v":
        word |= STRING  # binary object: 0x0900, width 0
    elif lower == "i":
        if width == 4:
            word |= 4
        else:
            word |= SHORT_INT | 2
    else:
        raise ValueError(f"unknown IDT column type {spec!r}")
    if key:
        word |= KEY
    return word
