"""Every bad input named in the core issue fails with a clear error before any weight changes."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import kerasish as ks

from helpers import classification_data, mlp, regression_data, same_weights, weights_of


@pytest.fixture
def model():
    return ks.Model(mlp()).compile("sgd", "cross_entropy")


def _fails_without_touching_weights(model, error, match, **fit_kwargs):
    before = weights_of(model.module)
    with pytest.raises(error, match=match):
        model.fit(verbose=0, **fit_kwargs)
    assert same_weights(before, weights_of(model.module))


def test_fit_and_evaluate_before_compile():
    x, y = classification_data()
    with pytest.raises(ValueError, match=r"compile\(\) before fit"):
        ks.Model(mlp()).fit(x, y)
    with pytest.raises(ValueError, match=r"compile\(\) before evaluate"):
        ks.Model(mlp()).evaluate(x, y)
    with pytest.raises(ValueError, match="loss=None"):
        ks.Model(mlp()).compile("adam").fit(x, y)


def test_x_y_length_mismatch_names_both_sizes(model):
    x, y = classification_data()
    _fails_without_touching_weights(model, ValueError, "x has 120 and y has 100", x=x, y=y[:100])


def test_multi_input_length_mismatch(model):
    x, y = classification_data()
    with pytest.raises(ValueError, match=r"sizes \[60, 120\]"):
        model.fit((x, x[:60]), y, verbose=0)


def test_elementwise_loss_never_broadcasts():
    x, y = regression_data()
    model = ks.Model(mlp(inputs=4, outputs=1)).compile("sgd", "mse")
    bad = np.repeat(y, 2, axis=1)  # (N, 2) targets for (N, 1) outputs would broadcast silently
    _fails_without_touching_weights(model, ValueError, r"shape \(16, 1\).*shape \(16, 2\)",
                                    x=x, y=bad, batch_size=16)


def test_elementwise_loss_accepts_keras_rank_difference():
    x, y = regression_data()
    model = ks.Model(mlp(inputs=4, outputs=1)).compile("sgd", "mse")
    model.fit(x, y[:, 0], verbose=0)  # (N,) targets against (N, 1) outputs, as Keras allows


@pytest.mark.parametrize("loss", ["cross_entropy", "sparse_categorical_crossentropy", "nll"])
def test_class_index_losses_reject_float_labels(loss):
    x, y = classification_data()
    model = ks.Model(mlp()).compile("sgd", loss)
    _fails_without_touching_weights(model, TypeError, "integer class indices.*float32",
                                    x=x, y=y.astype("float32"))


def test_out_of_range_labels_fail_before_training_even_in_a_late_batch(model):
    x, y = classification_data()
    y = y.copy()
    y[-1] = 7  # only the last batch holds it: the whole array is checked up front
    _fails_without_touching_weights(model, ValueError, "contain 7.*outputs 3 classes", x=x, y=y)
    y[-1] = -1
    _fails_without_touching_weights(model, ValueError, "contain -1", x=x, y=y)


def test_out_of_range_label_in_a_dataloader_first_batch(model):
    x, y = classification_data()
    y = y.copy()
    y[0] = 9
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=16)
    _fails_without_touching_weights(model, ValueError, "contain 9", x=loader)


def test_sample_weight_of_the_wrong_length(model):
    x, y = classification_data()
    _fails_without_touching_weights(model, ValueError, r"one weight per sample \(120\)",
                                    x=x, y=y, sample_weight=np.ones(50))


@pytest.mark.parametrize("split", [-0.1, 1.0, 1.5])
def test_validation_split_outside_zero_one(model, split):
    x, y = classification_data()
    _fails_without_touching_weights(model, ValueError, "validation_split", x=x, y=y,
                                    validation_split=split)


def test_validation_split_with_non_array_input(model):
    x, y = classification_data()
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=16)
    _fails_without_touching_weights(model, ValueError, "validation_split needs NumPy arrays",
                                    x=loader, validation_split=0.2)


@pytest.mark.parametrize("bad", [(np.zeros((3, 8)),), (1, 2, 3, 4), "val"])
def test_validation_data_must_be_x_y_or_x_y_sw(model, bad):
    x, y = classification_data()
    with pytest.raises((ValueError, TypeError), match="validation_data"):
        model.fit(x, y, validation_data=bad, verbose=0)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5])
def test_batch_size_must_be_positive(model, batch_size):
    x, y = classification_data()
    _fails_without_touching_weights(model, ValueError, "batch_size must be a positive integer",
                                    x=x, y=y, batch_size=batch_size)


def test_empty_data(model):
    with pytest.raises(ValueError, match="empty"):
        model.fit(np.zeros((0, 8), "float32"), np.zeros((0,), "int64"), verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.fit(TensorDataset(torch.zeros(0, 8), torch.zeros(0, dtype=torch.long)), verbose=0)


def test_class_weight_with_sample_weight(model):
    x, y = classification_data()
    _fails_without_touching_weights(model, ValueError, "class_weight and sample_weight", x=x, y=y,
                                    class_weight={0: 1.0}, sample_weight=np.ones(120))


@pytest.mark.parametrize("verbose", [3, "yes", -1])
def test_verbose_values(model, verbose):
    x, y = classification_data()
    with pytest.raises(ValueError, match="verbose must be 0, 1, 2 or 'auto'"):
        model.fit(x, y, verbose=verbose)


def test_batch_size_with_a_dataloader(model):
    x, y = classification_data()
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=16)
    with pytest.raises(ValueError, match="batch_size must be None when x is a DataLoader"):
        model.fit(loader, batch_size=8, verbose=0)


def test_unsupported_input_type(model):
    with pytest.raises(TypeError, match="x must be a NumPy array"):
        model.fit(42, verbose=0)


def test_load_weights_of_a_corrupt_file(model, tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="broken.pt.*corrupt"):
        model.load_weights(path)


def test_load_weights_into_a_mismatched_module(tmp_path):
    path = tmp_path / "small.pt"
    ks.Model(mlp(hidden=4)).save_weights(path)
    with pytest.raises(ValueError, match=r"small.pt.*shape mismatches.*0.weight"):
        ks.Model(mlp(hidden=16)).load_weights(path)
    other = torch.nn.Sequential(torch.nn.Linear(8, 3))
    with pytest.raises(ValueError, match=r"missing keys \['0.weight'|unexpected keys"):
        ks.Model(other).load_weights(ks.Model(mlp()).save_weights(tmp_path / "x.pt") or tmp_path / "x.pt")


def test_set_weights_with_wrong_count_or_shape(model):
    weights = model.get_weights()
    with pytest.raises(ValueError, match="set_weights got 3 arrays"):
        model.set_weights(weights[:3])
    weights[0] = np.zeros((2, 2))
    with pytest.raises(ValueError, match="'0.weight' has shape"):
        model.set_weights(weights)


def test_more_torchrun_processes_than_gpus_names_both_fixes(monkeypatch):
    # A node with one GPU and torchrun --nproc_per_node=2: rank 1 has no cuda:1. The GPU count is
    # patched because CI has no GPU; the check itself runs before any CUDA call.
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"LOCAL_RANK=1 .* 1 CUDA device.*nproc_per_node=1.*device='cpu'"):
        ks.Model(mlp())
