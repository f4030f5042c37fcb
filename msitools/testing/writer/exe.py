"""Self-extracting containers for fixtures: an SFX (cabinets appended), an IExpress package
(a CABINET resource) and a WiX Burn bundle (``.wixburn`` section, UX and attached containers).

The stub is a :func:`~msitools.testing.writer.pe.build_pe` image; nothing in it runs.
Layouts follow what the readers of :mod:`msitools.payload.exe` document (the Burn section
header as WiX's ``burn/engine/section.cpp`` reads it).
"""
from __future__ import annotations

import datetime as _dt
import struct
import uuid
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet
from msitools.testing.writer.pe import build_pe

STAMP = _dt.datetime(2019, 9, 10, 12, 0, 0)
STUB_SIZE = 8192


def _stub(machine: str, version: str, name: str, size: int = STUB_SIZE, **extra) -> bytes:
    return build_pe(machine=machine, file_version=version, product_version=version, size=size, timestamp=STAMP,
                    is_dll=False, strings={"OriginalFilename": name, "FileDescription": f"{name} (fixture stub)"},
                    **extra)


def build_sfx(cabinets: Sequence[bytes], *, machine: str = "x64", version: str = "1.0.0.0",
              name: str = "setup.exe") -> bytes:
    """A stub image followed by *cabinets*, back to back (a SQL Server-style self-extracting update)."""
    return _stub(machine, version, name) + b"".join(cabinets)


def build_iexpress(cabinet: bytes, *, machine: str = "x86", version: str = "1.0.0.0", name: str = "wextract.exe"
                   ) -> bytes:
    """A stub image whose RT_RCDATA resource ``CABINET`` holds *cabinet*."""
    size = STUB_SIZE + len(cabinet) + 4096
    image = _stub(machine, version, name, size=size + (-size % 512), rcdata={"CABINET": cabinet})
    return image.rstrip(b"\0") + b"\0" * (-len(image.rstrip(b"\0")) % 512)


def burn_manifest(bundle_id: str, ux: Sequence[tuple[str, str]], attached: Sequence[tuple[str, str, str]]) -> bytes:
    """A minimal Burn manifest: UX payloads (source member, file path) and attached ones
    (source member, file path, package id of an MsiPackage)."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<BurnManifest xmlns="http://schemas.microsoft.com/wix/2008/Burn">',
             f'  <RegistrationTemp BundleId={quoteattr(bundle_id)}/>', "  <UX>"]
    lines += [f"    <Payload Id={quoteattr(f'ux{i}')} FilePath={quoteattr(path)} Packaging=\"embedded\" "
              f"SourcePath={quoteattr(member)}/>" for i, (member, path) in enumerate(ux)]
    lines += ["  </UX>", '  <Container Id="WixAttachedContainer" Attached="yes" AttachedIndex="1" Primary="yes"/>']
    lines += [f"  <Payload Id={quoteattr(f'p{i}')} FilePath={quoteattr(path)} Packaging=\"embedded\" "
              f"SourcePath={quoteattr(member)} Container=\"WixAttachedContainer\"/>"
              for i, (member, path, _pkg) in enumerate(attached)]
    lines += ["  <Chain>"] + [f"    <MsiPackage Id={quoteattr(pkg)}><PayloadRef Id={quoteattr(f'p{i}')}/>"
                              "</MsiPackage>" for i, (_m, _p, pkg) in enumerate(attached)] + ["  </Chain>",
                                                                                            "</BurnManifest>"]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def build_burn(ux_files: Sequence[tuple[str, bytes]], attached_files: Sequence[tuple[str, bytes]], *,
               bundle_id: str = "{5A3E0B2C-1D4F-4E6A-9B7C-8D9E0F1A2B3C}", machine: str = "x86",
               version: str = "3.11.2.4516", packages: Sequence[str] = ()) -> bytes:
    """A Burn bundle: stub with ``.wixburn``, a UX container (manifest as member ``0`` and the UX files as
    ``u0``...), one attached container (the files as ``a0``...).  *packages*: the package id of each
    attached file (default its file name)."""
    ux_members = [(f"u{i}", path) for i, (path, _d) in enumerate(ux_files)]
    attached_members = [(f"a{i}", path, (packages[i] if i < len(packages) else path))
                        for i, (path, _d) in enumerate(attached_files)]
    manifest = burn_manifest(bundle_id, ux_members, attached_members)
    ux = build_cabinet([FolderSpec([FileSpec("0", manifest, STAMP)] +
                                   [FileSpec(m, d, STAMP) for (m, _p), (_n, d) in zip(ux_members, ux_files)],
                                   compression="mszip")])
    attached = build_cabinet([FolderSpec([FileSpec(m, d, STAMP) for (m, _p, _k), (_n, d) in
                                          zip(attached_members, attached_files)], compression="mszip")])
    header = struct.pack("<II", 0x00F14300, 2) + uuid.UUID(bundle_id).bytes_le
    header += struct.pack("<IIIIII", STUB_SIZE, 0, 0, 0, 1, 2) + struct.pack("<II", len(ux), len(attached))
    stub = _stub(machine, version, "bundle.exe", sections=((b".wixburn", header + b"\0" * (512 - len(header))),))
    return stub + ux + attached
