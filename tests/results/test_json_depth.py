"""The nesting bound on JSON deter reads (issue 25): brackets in strings do not count."""

from __future__ import annotations

import json

import pytest
from deter.solver.results.json_depth import MAX_JSON_DEPTH, TooDeep, check_depth


def test_depth_at_the_limit_passes_and_one_more_is_refused_where_it_goes_over() -> None:
    check_depth("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    deep = '{"a":\n ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    with pytest.raises(TooDeep) as caught:
        check_depth(deep)
    assert (caught.value.line, caught.value.column) == (2, MAX_JSON_DEPTH + 1)


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(["[" * 500]),  # brackets inside a string
        json.dumps(['\\"' + "{" * 500]),  # after an escaped backslash and quote
        json.dumps({"k\\": "[" * 300, "v": ['"' + "[" * 300]}),
    ],
)
def test_brackets_inside_strings_do_not_count(text: str) -> None:
    check_depth(text)
    check_depth(text.encode())


def test_brackets_after_a_string_ending_in_a_backslash_count() -> None:
    text = json.dumps(["\\"])[:-1] + "," + "[" * 100 + "]" * 100 + "]"
    assert json.loads(text)  # valid JSON, nested 101 deep
    with pytest.raises(TooDeep):
        check_depth(text)
