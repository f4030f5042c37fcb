"""A generated software library for the catalog tests and benchmark: packages, patches, cabinets,
executable containers and damaged files, with what was put in (so queries can be checked).

Every package is small and built by the fixture writers; the mix repeats every ten packages:
six MSIs (some deliver ``openssl.dll`` in one of four versions, some install a service, some
run a custom action as SYSTEM), one patch, one cabinet, one self-extracting executable
holding an MSI, and one damaged file (a truncated MSI, or garbage named ``.msi``).
"""
from __future__ import annotations

import datetime as _dt
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet
from msitools.testing.writer.exe import build_sfx
from msitools.testing.writer.package import (
    SERVICE_INSTALL_COLUMNS,
    STANDARD_DIRECTORIES,
    PayloadFile,
    build_package,
)
from msitools.testing.writer.pe import build_pe

STAMP = _dt.datetime(2021, 3, 4, 5, 6)
OPENSSL_VERSIONS = ["1.0.2.21", "1.1.1.11", "1.1.1.23", "3.0.13.0"]
DIRS = STANDARD_DIRECTORIES + [("APP", "ProgramFilesFolder", "app")]


@dataclass
class Library:
    """What :func:`build_library` wrote: every file, and the facts the catalog must then hold."""

    root: Path
    files: list[Path] = field(default_factory=list)
    damaged: list[Path] = field(default_factory=list)
    openssl: dict[str, str] = field(default_factory=dict)  # path of the package (top level) -> version
    services: list[str] = field(default_factory=list)  # top-level package paths that install a service
    system_actions: list[str] = field(default_factory=list)  # ... that run a custom action as SYSTEM
    nested: list[str] = field(default_factory=list)  # executables holding an MSI


def _image(name: str, version: str, seed: int) -> bytes:
    size = 8192 + 512 * (seed % 7)
    return build_pe(machine="x64" if seed % 2 else "x86", file_version=version, product_version=version, size=size,
                    timestamp=STAMP, is_dll=name.endswith(".dll"), strings={"OriginalFilename": name})


def _msi(n: int, rnd: random.Random, lib: Library, path: Path) -> bytes:
    files = [PayloadFile("APP", f"tool{n}.exe", _image(f"tool{n}.exe", f"2.{n % 10}.0.{n}", n), key=f"tool{n}.exe",
                         version=f"2.{n % 10}.0.{n}"),
             PayloadFile("APP", "readme.txt", f"package {n}\r\n".encode(), key="readme.txt")]
    if n % 3 == 0:
        version = OPENSSL_VERSIONS[(n // 3) % len(OPENSSL_VERSIONS)]
        files.append(PayloadFile("APP", "openssl.dll", _image("openssl.dll", version, n), key="openssl.dll",
                                 version=version))
        lib.openssl[str(path)] = version
    built = build_package(files, directories=DIRS, product_name=f"Library Product {n}",
                          manufacturer=rnd.choice(["Contoso", "Fabrikam", "Northwind"]),
                          product_code=f"{{00000000-0000-4000-8000-{n:012d}}}",
                          package_code=f"{{00000000-0000-4000-9000-{n:012d}}}", product_version=f"1.{n}.0")
    db = built.database
    if n % 4 == 0:
        db.add_table("ServiceInstall", SERVICE_INSTALL_COLUMNS)
        db.add_row("ServiceInstall", "Svc", f"LibrarySvc{n}", f"Library Service {n}", 16, 2, 1, None, None, None,
                   None, None, f"tool{n}.exe", None)
        lib.services.append(str(path))
    if n % 5 == 0:
        db.add_table("Binary", [("Name", "s72", True), ("Data", "v0", False)])
        db.add_row("Binary", "Helper", _image("helper.dll", "1.0.0.0", n))
        db.add_table("CustomAction", [("Action", "s72", True), ("Type", "i2", False), ("Source", "S72", False),
                                      ("Target", "S255", False)])
        db.add_row("CustomAction", "RunAsSystem", 1 | 0x400 | 0x800, "Helper", "Main")
        db.add_row("CustomAction", "SetX", 51, "X", "1")
        lib.system_actions.append(str(path))
    return db.build("msi")


def build_library(root: str | os.PathLike[str], count: int, *, seed: int = 18,
                  patch: bytes | None = None) -> Library:
    """Write *count* files under *root* (in folders of 50) and say what they hold."""
    rnd = random.Random(seed)
    lib = Library(Path(root))
    for n in range(count):
        folder = lib.root / f"share{n // 50:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = n % 10
        if kind < 6:
            path = folder / f"product{n:05d}.msi"
            path.write_bytes(_msi(n, rnd, lib, path))
        elif kind == 6 and patch is not None:
            path = folder / f"update{n:05d}.msp"
            path.write_bytes(patch)
        elif kind in (6, 7):
            path = folder / f"payload{n:05d}.cab"
            path.write_bytes(build_cabinet([FolderSpec([FileSpec(f"file{n}.bin", rnd.randbytes(2000)),
                                                        FileSpec("library.dll", _image("library.dll", "5.0.0.1", n))],
                                                       compression="mszip")]))
        elif kind == 8:
            path = folder / f"setup{n:05d}.exe"
            inner = _msi(n, rnd, lib, path)
            path.write_bytes(build_sfx([build_cabinet([FolderSpec([FileSpec("product.msi", inner)],
                                                                  compression="mszip")])]))
            lib.nested.append(str(path))
        else:
            path = folder / f"broken{n:05d}.msi"
            good = _msi(n, rnd, lib, path)
            lib.openssl.pop(str(path), None)
            if str(path) in lib.services:
                lib.services.remove(str(path))
            if str(path) in lib.system_actions:
                lib.system_actions.remove(str(path))
            path.write_bytes(good[:700] if n % 20 == 9 else b"this is not a package" * 50)
            lib.damaged.append(path)
        lib.files.append(path)
    return lib
