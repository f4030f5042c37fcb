"""The Directory table resolved into paths (lessmsi's layout: ``SourceDir/PFiles/Product/...``).

DefaultDir is ``target[:source]``, each part ``short|long`` or a single name;
``.`` means "no subdirectory of its own".  We use the target part and its long
name, as an installed layout would.  Roots are rows whose parent is NULL or
itself (TARGETDIR, DefaultDir SourceDir).  Standard folder properties
(ProgramFilesFolder, WindowsFolder, ...) are not mapped to real Windows paths:
they keep the names their DefaultDir gives them.  Missing parents and loops are
recorded as issues, never silently dropped.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ROOT_NAME = "SourceDir"


def split_default_dir(default_dir: str | None, source: bool = False) -> str | None:
    """The directory name a DefaultDir value gives (None for ``.``)."""
    if not default_dir:
        return None
    target, _, src = default_dir.partition(":")
    part = src if (source and src) else target
    short, _, long = part.partition("|")
    name = long or short
    if name in ("", "."):
        return None
    return name


def long_file_name(file_name: str | None) -> str:
    """``short|long`` File.FileName -> the long name."""
    if not file_name:
        return ""
    short, _, long = file_name.partition("|")
    return long or short


@dataclass
class DirectoryTree:
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)  # directory id -> components
    issues: list[str] = field(default_factory=list)

    def path_of(self, directory: str | None) -> tuple[str, ...]:
        if directory is None:
            return (ROOT_NAME,)
        found = self.paths.get(directory)
        if found is None:
            return (ROOT_NAME, directory)
        return found

    def display(self, directory: str | None, sep: str = "\\") -> str:
        return sep.join(self.path_of(directory))


def resolve_directories(rows: Iterable[tuple[Any, Any, Any]], source: bool = False) -> DirectoryTree:
    """*rows*: (Directory, Directory_Parent, DefaultDir) as table cells (a NULL key is skipped).

    Returns every directory's path components.
    """
    table: dict[str, tuple[str | None, str | None]] = {}
    for directory, parent, default_dir in rows:
        if directory is None:
            continue
        table[directory] = (parent, default_dir)
    tree = DirectoryTree()
    paths = tree.paths

    def resolve(start: str) -> tuple[str, ...]:
        chain = []
        node = start
        seen = set()
        while True:
            if node in paths:
                base = paths[node]
                break
            if node in seen:
                tree.issues.append(f"Directory table loops at {node!r}; treated as a root")
                base = (ROOT_NAME,)
                break
            seen.add(node)
            entry = table.get(node)
            if entry is None:
                tree.issues.append(f"directory {node!r} is referenced as a parent but missing from the "
                                   "Directory table; placed at the root, as lessmsi does")
                base = (node,)
                paths[node] = base
                break
            parent, default_dir = entry
            if parent is None or parent == node:
                name = split_default_dir(default_dir, source) or ROOT_NAME
                base = (name,)
                paths[node] = base
                break
            chain.append(node)
            node = parent
        for child in reversed(chain):
            child_name = split_default_dir(table[child][1], source)
            base = base + (child_name,) if child_name else base
            paths[child] = base
        return paths.get(start, base)

    for directory in table:
        if directory not in paths:
            resolve(directory)
    return tree
