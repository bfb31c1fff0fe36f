"""save / save_weights / load_weights / get_weights / set_weights."""

import os

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import classification_data, mlp, same_weights, weights_of


def test_save_weights_round_trip_and_plain_torch_load(tmp_path):
    x, y = classification_data()
    model = ks.Model(mlp()).compile("adam", "cross_entropy")
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "nested" / "w.pt"
    model.save_weights(path)
    other = ks.Model(mlp())
    other.load_weights(path)
    assert same_weights(weights_of(model.module), weights_of(other.module))
    assert set(torch.load(path, weights_only=True)) == set(model.module.state_dict())


def test_full_save_restores_optimizer_so_training_continues_identically(tmp_path):
    x, y = classification_data()
    torch.manual_seed(0)
    straight = ks.Model(mlp()).compile("adam", "cross_entropy")
    straight.fit(x, y, epochs=2, shuffle=False, verbose=0)

    torch.manual_seed(0)
    first = ks.Model(mlp()).compile("adam", "cross_entropy")
    first.fit(x, y, epochs=1, shuffle=False, verbose=0)
    first.save(tmp_path / "full.ckpt")
    resumed = ks.Model(mlp()).compile("adam", "cross_entropy")
    resumed.load_weights(tmp_path / "full.ckpt")
    assert resumed.epoch == 1
    resumed.fit(x, y, epochs=2, initial_epoch=1, shuffle=False, verbose=0)
    assert same_weights(weights_of(straight.module), weights_of(resumed.module))


def test_saving_leaves_no_temporary_files(tmp_path):
    model = ks.Model(mlp()).compile("adam", "cross_entropy")
    model.save(tmp_path / "a.pt")
    model.save_weights(tmp_path / "b.pt")
    assert sorted(os.listdir(tmp_path)) == ["a.pt", "b.pt"]


def test_get_and_set_weights_round_trip_including_buffers():
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    model = ks.Model(net)
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(4, 4), (4,), (4,), (4,), (4,), (4,), ()]
    changed = [w + 1 for w in weights]
    model.set_weights(changed)
    for got, want in zip(model.get_weights(), changed):
        np.testing.assert_array_equal(got, want)


def test_summary_lists_layers_shapes_and_parameter_counts():
    x, y = classification_data(n=32)
    model = ks.Model(mlp()).compile("adam", "cross_entropy")
    lines = []
    model.summary(print_fn=lines.append)
    assert "?" in lines[0]  # no batch seen yet, no input shape: shapes unknown
    model.fit(x, y, epochs=1, verbose=0)
    lines.clear()
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "0 (Linear)" in text and "(None, 16)" in text and "(None, 3)" in text
    assert "Total params: 195" in text and "Trainable params: 195" in text
    lines.clear()
    ks.Model(mlp()).summary(input_shape=(8,), print_fn=lines.append)
    assert "(None, 16)" in lines[0]


@pytest.mark.parametrize("precision", ["mixed_float16"])
def test_full_save_includes_the_gradient_scaler(tmp_path, precision):
    model = ks.Model(mlp()).compile("adam", "cross_entropy", precision=precision)
    model.save(tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    assert state["compile"]["precision"] == precision
    assert "scale" in state["scaler"]
