"""The fast path of cell_text (a cell with nothing to remove) reads every cell as the full path does."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from msitools.kb.cells import _marked_cell_text, cell_text

MARKS = st.sampled_from(list("ab._-*`\\&<>|/ ") + ["\xa0", "\u200b", "\t", "\n", "**", "__", "<br>", "&amp;",
                                                    "<b>", "</b>", "\\_", "  ", "x.dll", "1,024"])


@given(st.lists(MARKS, max_size=12).map("".join))
@settings(max_examples=3000, deadline=None)
def test_fast_path_agrees_with_the_full_reading(cell):
    assert cell_text(cell) == _marked_cell_text(cell.strip())


@given(st.text(max_size=40))
@settings(max_examples=2000, deadline=None)
def test_fast_path_agrees_on_any_text(cell):
    assert cell_text(cell) == _marked_cell_text(cell.strip())
