"""Which files an extraction writes: names and shell-style patterns, as lessmsi ``x`` and 7-Zip take them.

A pattern without a path separator matches a file's name (long name, File key, or
cabinet member name); one with ``/`` or ``\\`` matches its install path (either
separator, with or without the leading ``SourceDir``).  Matching ignores case, as
Windows does.  Every pattern must match at least one file, or nothing is written.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from msitools.errors import UsageError


class Selection:
    """Patterns, and which of them have matched so far."""

    def __init__(self, patterns: Sequence[str]):
        self.patterns = [p for p in patterns if p]
        self._compiled = [(p, "/" in p.replace("\\", "/"), p.replace("\\", "/").lower()) for p in self.patterns]
        self.matched: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def accepts(self, names: Iterable[str | None], path: str | None = None) -> bool:
        """True when a pattern matches one of *names* or (for patterns with a separator) *path*."""
        lowered = [n.lower() for n in names if n]
        shown = path.replace("\\", "/").lower() if path else None
        hit = False
        for original, by_path, pattern in self._compiled:
            if by_path:
                ok = shown is not None and (fnmatch.fnmatchcase(shown, pattern) or (
                    shown.startswith("sourcedir/") and fnmatch.fnmatchcase(shown[len("sourcedir/"):], pattern)))
            else:
                ok = any(fnmatch.fnmatchcase(n, pattern) for n in lowered)
            if ok:
                self.matched.add(original)
                hit = True
        return hit

    def check_all_matched(self, what: str) -> None:
        """Raise UsageError naming the patterns that matched nothing in *what*."""
        missing = [p for p in self.patterns if p not in self.matched]
        if missing:
            shown = ", ".join(repr(p) for p in missing)
            raise UsageError(f"no file matches {shown} (msitools files lists them)", what)
