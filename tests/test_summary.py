"""summarize: output shapes from an example of the right dtype, any input structure, any stream."""

import io
import re

import numpy as np
import pytest
import torch

from kerasish.summary import build_example, summarize, zeros_input
from kerasish.trainer.engine import call_module


def embedding_net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Embedding(100, 8), torch.nn.Flatten(), torch.nn.Linear(32, 2))


class TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.image = torch.nn.Linear(3, 4)
        self.tokens = torch.nn.Embedding(10, 4)

    def forward(self, image, tokens):
        return self.image(image) + self.tokens(tokens).sum(dim=1)


def rows(text: str) -> dict[str, str]:
    """Layer name -> the table line that describes it."""
    return {m.group(1): line for line in text.splitlines() if (m := re.match(r" (\S+) \(\w+\) ", line))}


def test_an_embedding_model_is_summarized_from_integer_zeros():
    text = summarize(embedding_net(), zeros_input((4,), torch.long), call_module)
    table = rows(text)
    assert "(None, 4, 8)" in table["0"] and "800" in table["0"]
    assert "(None, 2)" in table["2"]
    assert " Output shape: (None, 2)" in text


def test_float_zeros_into_an_embedding_say_which_argument_to_pass():
    net = embedding_net().train()
    with pytest.raises(ValueError, match="input_dtype=.*torch.long") as error:
        summarize(net, zeros_input((4,)), call_module)
    assert "torch.float32 (1, 4)" in str(error.value)
    assert net.training and not net[0]._forward_hooks  # mode and hooks restored after the failure


def test_several_positional_inputs_take_one_dtype_each():
    example = zeros_input([(3,), (5,)], [torch.float32, torch.long])
    assert [t.dtype for t in example] == [torch.float32, torch.long]
    text = summarize(TwoInputs(), example, call_module)
    table = rows(text)
    assert "(None, 4)" in table["image"] and "(None, 5, 4)" in table["tokens"]


def test_keyword_inputs_come_from_a_dict_of_shapes():
    example = zeros_input({"image": (3,), "tokens": (2,)}, {"image": torch.float32, "tokens": torch.long})
    assert example["tokens"].shape == (1, 2) and example["tokens"].dtype == torch.long
    assert "(None, 2, 4)" in rows(summarize(TwoInputs(), example, call_module))["tokens"]


@pytest.mark.parametrize("shape, dtype", [
    ("abc", torch.float32),                       # not a shape
    ([(3,), "x"], torch.float32),                 # a list with something that is not a shape
    ([(3,), (5,)], [torch.float32]),              # one dtype short
    ((3,), [torch.float32]),                      # a list of dtypes for a single input
])
def test_malformed_shapes_and_dtypes_are_refused(shape, dtype):
    with pytest.raises(ValueError, match="summary: input_"):
        zeros_input(shape, dtype)


def test_the_most_explicit_example_wins():
    seen = torch.ones(1, 4)
    given = np.arange(8, dtype="int64").reshape(2, 4)
    from_example = build_example((4,), torch.float32, example_input=given, seen_input=seen)
    assert isinstance(from_example, torch.Tensor) and from_example.tolist() == given.tolist()
    assert build_example((3,), torch.long, seen_input=seen).dtype == torch.long
    assert build_example(seen_input=seen) is seen
    assert build_example() is None


def test_without_an_example_shapes_are_unknown_but_parameters_are_counted():
    text = summarize(embedding_net(), None, call_module)
    assert "?" in rows(text)["0"] and "Total params: 866" in text and "Output shape" not in text


def stream(encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding)


def test_rules_fall_back_to_ascii_when_the_stream_cannot_encode_them():
    ascii_text = summarize(embedding_net(), None, call_module, stream=stream("ascii"))
    ascii_text.encode("ascii")  # would raise on a box character
    assert "=" * 20 in ascii_text
    utf8_text = summarize(embedding_net(), None, call_module, stream=stream("utf-8"))
    assert "━" * 20 in utf8_text
    assert utf8_text.replace("━", "=") == ascii_text
