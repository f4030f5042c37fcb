"""The report JSON writer gives byte for byte what json.dumps(indent=2, ensure_ascii=False) gives."""
from __future__ import annotations

import datetime as _dt
import enum
import json
from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msitools.render import _json_default, json_text
from msitools.render.jsontext import indented_json


def reference(data):
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(), st.binary(max_size=8))
keys = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.tuples(inner, inner),
                                                          st.dictionaries(keys, inner, max_size=4)), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_generated_documents(data):
    assert indented_json(data, _json_default) == reference(data)


class Colour(enum.IntEnum):
    RED = 1


class Word(str, enum.Enum):
    YES = "yes"


class Report:
    def to_dict(self):
        return {"when": _dt.datetime(2026, 12, 5, 7, 15), "raw": b"\x00\xff", "nested": [Colour.RED, Word.YES]}


class Rows(list):
    pass


@pytest.mark.parametrize("data", [
    {}, [], "", {"a": {}, "b": [], "c": [[]], "d": [{}]},
    {"text": "naïve \u2028 \x00 \"quoted\" \\ ☃ \U0001f600", 1: "int key", 2.5: "float key", True: "bool key",
     None: "none key"},
    [float("nan"), float("inf"), -float("inf"), 1e300, -0.0, 10 ** 40, True, False, None],
    OrderedDict([("z", 1), ("a", 2)]), Rows([1, Rows([2])]), (1, (2, 3)),
    Report(), {"report": Report(), "again": [Report()]},
])
def test_the_values_reports_carry(data):
    assert indented_json(data, _json_default) == reference(data)


def test_a_cycle_is_refused_as_json_refuses_it():
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        indented_json(loop, _json_default)
    with pytest.raises(ValueError, match="Circular reference"):
        reference(loop)


def test_a_key_json_cannot_take_is_refused():
    with pytest.raises(TypeError, match="keys must be"):
        indented_json({(1, 2): "tuple key"}, _json_default)


def test_json_text_ends_with_a_newline_and_reads_back():
    data = {"verdict": "pass", "rows": [{"name": "a.dll", "size": 1}]}
    text = json_text(data)
    assert text.endswith("}\n") and json.loads(text) == data
