"""A custom train_step with its own optimizers and LR scheduler (the README's GAN shape) resumes
exactly: every optimizer and scheduler the model holds as an attribute is saved and restored, not
only ``model.optimizer`` (issue 26)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import InterruptAfter, Interrupted, same_weights, weights_of


class GAN(ks.Model):
    """A generator and a discriminator, each with its own Adam; the generator's LR decays."""

    def __init__(self):
        torch.manual_seed(0)
        generator = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
        discriminator = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        super().__init__(torch.nn.ModuleDict({"g": generator, "d": discriminator}), device="cpu")
        self.g, self.d = generator, discriminator

    def compile(self, d_optimizer="adam"):
        super().compile()  # no loss: this model computes its own
        self.d_optimizer = (torch.optim.Adam(self.d.parameters(), lr=1e-2) if d_optimizer == "adam"
                            else torch.optim.SGD(self.d.parameters(), lr=1e-2, momentum=0.9))
        self.g_optimizer = torch.optim.Adam(self.g.parameters(), lr=1e-2, betas=(0.5, 0.9))
        self.g_schedule = torch.optim.lr_scheduler.StepLR(self.g_optimizer, step_size=3, gamma=0.5)
        self.loss_fn = torch.nn.BCEWithLogitsLoss()
        return self

    def train_step(self, data):
        x, _, _ = ks.utils.unpack_x_y_sample_weight(data)
        real, fake_label = torch.ones(len(x), 1), torch.zeros(len(x), 1)
        fake = self.g(torch.randn(len(x), 4))
        d_loss = self.loss_fn(self.d(x), real) + self.loss_fn(self.d(fake.detach()), fake_label)
        self.d_optimizer.zero_grad()
        d_loss.backward()
        self.d_optimizer.step()
        g_loss = self.loss_fn(self.d(fake), real)
        self.g_optimizer.zero_grad()
        g_loss.backward()
        self.g_optimizer.step()
        self.g_schedule.step()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


def real_samples(n=40):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(n, 2)) * 0.5 + np.array([2.0, -1.0])).astype("float32")


def fit(model, callbacks):
    # 40 samples, batch 8: 5 shuffled batches per epoch, 15 in all.
    return model.fit(real_samples(), batch_size=8, epochs=3, verbose=0, callbacks=callbacks)


def test_a_gan_with_its_own_optimizers_resumes_bit_identically(tmp_path):
    expected = GAN().compile()
    fit(expected, [])

    interrupted = GAN().compile()
    with pytest.raises(Interrupted):  # mid-epoch 1, after global batch 7 and its backup
        fit(interrupted, [ks.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1), InterruptAfter(7)])
    backup = torch.load(tmp_path / "b" / "backup.pt", weights_only=True)
    owned = backup.pop("owned", None)  # without it: what a file written before they were saved holds
    torch.save(backup, tmp_path / "older.pt")

    resumed = GAN().compile()
    fit(resumed, [ks.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1)])
    assert same_weights(weights_of(resumed.module), weights_of(expected.module))
    assert resumed.g_schedule.last_epoch == expected.g_schedule.last_epoch == 15
    assert resumed.g_optimizer.param_groups[0]["lr"] == expected.g_optimizer.param_groups[0]["lr"]
    assert set(owned) == {"d_optimizer", "g_optimizer", "g_schedule"}

    older = GAN().compile()  # an older file still loads: the weights, with fresh own optimizers
    older.load_weights(tmp_path / "older.pt")
    assert same_weights(weights_of(older.module), backup["module"])
    assert older.d_optimizer.state_dict()["state"] == {} and older.g_schedule.last_epoch == 0


def test_save_and_load_weights_carry_the_models_own_optimizers(tmp_path):
    source = GAN().compile()
    fit(source, [])
    source.save(tmp_path / "gan.pt")
    target = GAN().compile()
    target.load_weights(tmp_path / "gan.pt")
    for name in ("d_optimizer", "g_optimizer"):
        saved, loaded = getattr(source, name).state_dict(), getattr(target, name).state_dict()
        assert saved["param_groups"] == loaded["param_groups"]
        for index, entry in saved["state"].items():
            assert all(torch.equal(value, loaded["state"][index][key]) for key, value in entry.items())
    assert target.g_schedule.state_dict() == source.g_schedule.state_dict()


def test_an_own_optimizer_of_another_type_is_refused_and_nothing_changes(tmp_path):
    source = GAN().compile()
    fit(source, [])
    source.save(tmp_path / "gan.pt")
    target = GAN().compile(d_optimizer="sgd")
    fit(target, [])
    before = weights_of(target.module)
    d_before = target.d_optimizer.state_dict()
    with pytest.raises(ValueError, match=r"gan\.pt' holds the state of model\.d_optimizer as saved by "
                                         r"Adam, and model\.d_optimizer is SGD here"):
        target.load_weights(tmp_path / "gan.pt")
    assert same_weights(before, weights_of(target.module))
    d_after = target.d_optimizer.state_dict()
    assert d_after["param_groups"] == d_before["param_groups"]
    assert all(torch.equal(d_before["state"][i]["momentum_buffer"], d_after["state"][i]["momentum_buffer"])
               for i in d_before["state"])
