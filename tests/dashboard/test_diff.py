"""The event page's before/after diff (dashboard/diff.py)."""

from dashboard.diff import changes


def rows(before, after):
    return [(c.path, c.kind, c.before, c.after) for c in changes(before, after)]


def test_leaves_are_added_removed_changed_or_the_same():
    assert rows({"a": 1, "b": {"c": "x"}, "gone": [1]}, {"a": 1, "b": {"c": "y"}, "new": None}) == [
        ("a", "same", "1", "1"),
        ("b.c", "changed", '"x"', '"y"'),
        ("gone[0]", "removed", "1", ""),
        ("new", "added", "", "null"),
    ]


def test_json_types_differ_even_where_python_calls_them_equal():
    assert rows({"n": 1, "f": 1.0, "s": "1"}, {"n": True, "f": 1, "s": 1}) == [
        ("f", "changed", "1.0", "1"),
        ("n", "changed", "1", "true"),
        ("s", "changed", '"1"', "1"),
    ]


def test_a_key_with_a_dot_is_not_read_as_a_nested_one():
    paths = [c.path for c in changes({"a.b": 1, "a": {"b": 2}}, None)]
    assert sorted(paths) == sorted(['"a.b"', "a.b"])
    assert len(set(paths)) == 2


def test_no_state_is_no_rows_and_empty_containers_are_leaves():
    assert changes(None, None) == []
    assert rows(None, {"tags": [], "x": {}}) == [
        ("tags", "added", "", "[]"),
        ("x", "added", "", "{}"),
    ]
