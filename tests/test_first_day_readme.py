"""The README's first-day claims (issue 26), each checked as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import kerasish as ks

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def examples_paragraph() -> str:
    start = README.index("## Examples")
    return README[start:README.index("\n- ", start)]


def test_the_examples_take_the_flags_the_readme_says():
    paragraph = examples_paragraph()
    with_data = set(re.findall(r"`(\w+\.py)`", paragraph.split("also take")[0].split(";")[-1]))
    assert with_data and "ddp.py" in paragraph
    for path in sorted((ROOT / "examples").glob("*.py")):
        if path.name in ("common.py", "fsdp.py"):
            continue
        source = path.read_text(encoding="utf-8")
        assert ('"--small"' in source) == (path.name != "ddp.py"), path.name
        assert ('"--data"' in source) == (path.name in with_data), path.name


def test_quickstart_small_runs_and_a_second_run_gets_its_own_tensorboard_run(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for _ in range(2):  # a user runs it twice in the same folder
        result = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py"), "--small"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "Epoch 2/2" in result.stdout and "test accuracy" in result.stdout
        assert "Warning" not in result.stderr, result.stderr[-2000:]
    logs = tmp_path / "logs" / "quickstart"
    assert list((logs / "train").glob("events.out.tfevents.*"))
    assert list((logs / "run-2" / "train").glob("events.out.tfevents.*"))


def readme_block(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, marker
    return found[0]


def test_the_readme_gan_logs_its_losses_and_counts_its_optimizer_steps(tmp_path):
    namespace = {"ks": ks, "torch": torch}
    exec(readme_block("class GAN(ks.Model):"), namespace)
    generator = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Sigmoid())
    discriminator = torch.nn.Sequential(torch.nn.Linear(64, 1))
    model = namespace["GAN"](generator, discriminator).compile(
        torch.optim.Adam(discriminator.parameters(), 3e-4), torch.optim.Adam(generator.parameters(), 3e-4),
        ks.losses.BinaryCrossentropy(from_logits=True))
    x = np.random.default_rng(0).random((64, 64)).astype("float32")
    history = model.fit(x, epochs=2, batch_size=32, verbose=0).history
    assert sorted(history) == ["d_loss", "g_loss"]
    assert all(0.3 < value < 1.5 for values in history.values() for value in values)
    assert model.optimizer_steps == 4
    model.save(tmp_path / "gan.pt")
    again = namespace["GAN"](torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Sigmoid()),
                             torch.nn.Sequential(torch.nn.Linear(64, 1)))
    again.compile(torch.optim.Adam(again.d.parameters(), 3e-4), torch.optim.Adam(again.g.parameters(), 3e-4),
                  ks.losses.BinaryCrossentropy(from_logits=True))
    again.load_weights(tmp_path / "gan.pt")
    assert again.optimizer_steps == 4 and len(again.g_optimizer.state) == 2


def test_the_readme_calls_predicts_outputs_logits_and_shows_the_softmax():
    block = readme_block("model = ks.Model(net).compile(\"adam\", \"cross_entropy\"")
    assert "probabilities = model.predict" not in block
    assert "probabilities = torch.softmax(torch.from_numpy(logits), dim=-1)" in block


def test_the_export_message_names_how_to_get_onnxruntime():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    source = (ROOT / "kerasish" / "export.py").read_text(encoding="utf-8")
    if "onnxruntime" not in pyproject:
        assert "pip install onnxruntime" in source


def test_the_readme_says_how_to_get_torchs_cpu_wheels_and_ruff_knows_wandb():
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in README
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'known-third-party = \[[^\]]*"wandb"', pyproject)


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the repository")
def test_a_wandb_run_folder_in_the_root_does_not_fail_ruffs_import_check(tmp_path):
    pytest.importorskip("ruff")
    copy = tmp_path / "repo"
    (copy / "wandb").mkdir(parents=True)
    (copy / "wandb" / "__init__.py").write_text("")
    (copy / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (copy / "kerasish").mkdir()
    (copy / "kerasish" / "__init__.py").write_text("")
    (copy / "tests").mkdir()
    (copy / "tests" / "test_x.py").write_text(
        "import pytest\nimport wandb\n\nimport kerasish\n\nprint(pytest, wandb, kerasish)\n")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "I", "tests"],
                            cwd=copy, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
