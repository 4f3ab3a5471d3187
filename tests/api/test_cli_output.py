"""``--json`` output: printed as plain text, the very text rich's ``print_json`` gives.

The CLI's consoles skip rich's JSON highlighter when the output is not a terminal (it cost
seconds on a large division's findings); scripts must not see a difference.
"""

from __future__ import annotations

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from api.cli.output import _Console

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=values, ensure_ascii=st.booleans())
def test_plain_json_is_rich_json(value, ensure_ascii):
    text = json.dumps(value, ensure_ascii=False)
    want, got = io.StringIO(), io.StringIO()
    Console(file=want, soft_wrap=True).print_json(text, ensure_ascii=ensure_ascii)
    _Console(file=got, soft_wrap=True).print_json(text, ensure_ascii=ensure_ascii)
    assert got.getvalue() == want.getvalue()
    assert json.loads(got.getvalue()) == value


def test_data_and_default_are_honoured():
    got = io.StringIO()
    _Console(file=got).print_json(data={"when": object}, default=lambda v: "x")
    assert json.loads(got.getvalue()) == {"when": "x"}
