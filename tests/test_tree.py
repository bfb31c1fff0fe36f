"""Properties of the one walk over nested inputs and outputs (``kerasish.tree``)."""

import doctest
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import kerasish as ks
from kerasish import tree
from kerasish.distributed import interleave
from kerasish.tree import flatten, map_structure, map_together

SETTINGS = settings(max_examples=200, deadline=None)

# Leaves are ints; None is the empty structure; nodes are tuples, lists and dicts, nested.
STRUCTURES = st.recursive(
    st.integers(-1000, 1000) | st.none(),
    lambda children: (st.lists(children, max_size=4) | st.lists(children, max_size=4).map(tuple)
                      | st.dictionaries(st.text(max_size=3), children, max_size=4)),
    max_leaves=20,
)


def leaves_by_hand(struct):
    """The leaves, written independently of kerasish.tree (an explicit stack)."""
    out, stack = [], [struct]
    while stack:
        item = stack.pop()
        if item is None:
            continue
        if isinstance(item, (tuple, list)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        else:
            out.append(item)
    return out


def assert_same_shape(a, b):
    """Same node types, lengths, keys (in order) and None places; leaves may differ."""
    if a is None or b is None:
        assert a is None and b is None
    elif isinstance(a, (tuple, list, dict)):
        assert type(a) is type(b) and len(a) == len(b)
        if isinstance(a, dict):
            assert list(a) == list(b)
            for key in a:
                assert_same_shape(a[key], b[key])
        else:
            for x, y in zip(a, b):
                assert_same_shape(x, y)
    else:
        assert not isinstance(b, (tuple, list, dict)) and b is not None


@SETTINGS
@given(STRUCTURES)
def test_flatten_of_map_is_map_of_flatten(struct):
    f = lambda leaf: 3 * leaf - 1  # noqa: E731
    assert flatten(map_structure(f, struct)) == [f(leaf) for leaf in flatten(struct)]
    assert flatten(struct) == leaves_by_hand(struct)


@SETTINGS
@given(STRUCTURES)
def test_map_keeps_the_structure_and_never_calls_fn_on_none(struct):
    seen = []

    def f(leaf):
        seen.append(leaf)
        return str(leaf)

    mapped = map_structure(f, struct)
    assert_same_shape(struct, mapped)
    assert None not in seen and seen == flatten(struct)
    assert map_structure(lambda leaf: leaf, struct) == struct


@SETTINGS
@given(STRUCTURES, st.integers(1, 4))
def test_map_together_gets_the_leaves_of_every_structure_at_each_place(struct, count):
    copies = [map_structure(lambda leaf, i=i: leaf + 1000 * i, struct) for i in range(count)]
    joined = map_together(list, copies)
    expected = map_structure(lambda leaf: [leaf + 1000 * i for i in range(count)], struct)
    assert joined == expected
    assert map_together(sum, copies) == map_structure(
        lambda leaf: count * leaf + 1000 * count * (count - 1) // 2, struct)


def test_none_is_the_empty_structure():
    assert map_structure(lambda leaf: 1 / 0, None) is None
    assert flatten(None) == []
    assert map_together(lambda leaves: 1 / 0, [None, None]) is None
    assert map_structure(str, (None, [1, None])) == (None, ["1", None])


def test_any_mapping_becomes_a_dict_in_its_own_order_and_strings_are_leaves():
    ordered = OrderedDict([("b", 1), ("a", "xy")])
    mapped = map_structure(lambda leaf: leaf * 2, ordered)
    assert type(mapped) is dict and list(mapped) == ["b", "a"] and mapped == {"b": 2, "a": "xyxy"}
    assert flatten(ordered) == [1, "xy"]


def test_map_together_follows_the_first_and_fails_on_a_missing_place():
    with pytest.raises(KeyError):
        map_together(list, [{"a": 1}, {"b": 2}])
    with pytest.raises(IndexError):
        map_together(list, [(1, 2), (1,)])


def test_the_docstring_examples_run():
    result = doctest.testmod(tree)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------------ the walks that use it

class _NestedOutputs(torch.nn.Module):
    def forward(self, x):
        return (x, {"double": 2 * x, "none": None})


def test_predict_joins_nested_outputs_batch_by_batch_and_keeps_a_none_output():
    x = np.arange(10, dtype="float32").reshape(5, 2)
    for out in (ks.Model(_NestedOutputs()).predict(x, batch_size=2, verbose=0),
                ks.Model(_NestedOutputs()).predict_on_batch(x)):
        assert type(out) is tuple and out[1]["none"] is None
        np.testing.assert_array_equal(out[0], x)
        np.testing.assert_array_equal(out[1]["double"], 2 * x)


def test_interleave_puts_each_ranks_rows_back_in_nested_outputs():
    rows = np.arange(7)
    shards = [{"a": (rows[r::2], 10 * rows[r::2])} for r in range(2)]  # rank r holds rows r, r+2, ...
    joined = interleave(shards)
    np.testing.assert_array_equal(joined["a"][0], rows)
    np.testing.assert_array_equal(joined["a"][1], 10 * rows)


def test_compile_config_names_each_loss_in_the_structure_given():
    model = ks.Model(torch.nn.Linear(2, 2))
    model.compile("sgd", loss={"a": "mse", "b": [ks.losses.MeanAbsoluteError(), None]})
    assert model.compile_config["loss"] == {"a": "mse", "b": ["mean_absolute_error", None]}
