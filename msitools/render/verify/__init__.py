"""Renderers of the verification report: text, Markdown, JUnit XML and a self-contained HTML page.

Each takes the :class:`~msitools.verify.report.VerifyReport` (and, for text and Markdown,
:class:`~msitools.render.options.RenderOptions`) and returns a string; none prints.  JSON
is the report's ``to_dict()``, emitted by :func:`msitools.render.json_text`.
"""
from __future__ import annotations

from collections.abc import Callable

from msitools.render.verify.common import signature_lines, summary_line
from msitools.render.verify.html import render_html
from msitools.render.verify.junit import render_junit
from msitools.render.verify.markdown import render_markdown
from msitools.render.verify.text import render_text

__all__ = ["RENDERERS", "render_html", "render_junit", "render_markdown", "render_text", "signature_lines",
           "summary_line"]

RENDERERS: dict[str, Callable[..., str]] = {
    "text": render_text, "markdown": render_markdown, "junit": render_junit, "html": render_html}

