"""How a report is drawn beyond its format: colour, width and detail (set by the command line).

Renderers marked with :func:`takes_options` receive a :class:`RenderOptions`;
the others ignore it.  Colour is ANSI SGR and is only ever on when the command
line decides the output is a terminal and ``NO_COLOR`` is not set.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_SGR = {"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2",
        "bold-green": "1;32", "bold-red": "1;31"}


@dataclass(frozen=True)
class RenderOptions:
    """``color``: ANSI colours; ``width``: the columns a text report must fit; ``details``: the long form."""

    color: bool = False
    width: int = 100
    details: bool = False

    def paint(self, text: str, style: str) -> str:
        if not self.color or not text:
            return text
        return f"\x1b[{_SGR[style]}m{text}\x1b[0m"


PLAIN = RenderOptions()


def color_wanted(is_terminal: bool, environ: dict[str, str] | None = None) -> bool:
    """Colour on a terminal unless ``NO_COLOR`` is set (to anything); never when piped."""
    env = os.environ if environ is None else environ
    return is_terminal and not env.get("NO_COLOR")


def takes_options(fn: F) -> F:
    """Mark a renderer that accepts ``options`` as its second argument."""
    fn.takes_options = True  # type: ignore[attr-defined]
    return fn
