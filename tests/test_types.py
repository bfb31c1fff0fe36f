"""The public API's types, as a user's type checker sees them (kerasish ships py.typed): the
usual calls pass, and each wrong kind of argument is reported on its line. One mypy run checks
two small user files (mypy reads torch's annotations, so a run takes a while)."""

import re

import pytest

mypy_api = pytest.importorskip("mypy.api")

HEADER = """\
import numpy as np
import torch
import kerasish as ks

net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
model = ks.Model(net)
x, y = np.zeros((8, 3), dtype="float32"), np.zeros((8, 1), dtype="float32")
"""

USUAL = """
model.compile("adam", "mse", metrics=["mae"])
model.compile(torch.optim.SGD, torch.nn.MSELoss(), metrics=[ks.metrics.MeanAbsoluteError()])
model.compile(ks.optimizers.Adam(learning_rate=1e-3), lambda p, t: ((p - t) ** 2).mean())
model.compile("sgd", {"out": "mse"}, metrics={"out": ["mae"]}, loss_weights={"out": 1.0})
model.compile(lambda params: torch.optim.Adam(params, lr=1e-3), ["mse", None])
history = model.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), sample_weight=np.ones(8))
model.fit(torch.utils.data.TensorDataset(torch.zeros(8, 3), torch.zeros(8, 1)), epochs=1)
model.fit((batch for batch in [(x, y)]), steps_per_epoch=1)
logs = model.evaluate({"features": x}, y, return_dict=True)
outputs = model.predict([x, x], batch_size=2)
model.train_on_batch(torch.zeros(2, 3), torch.zeros(2, 1))
"""

# Each wrong call, and the argument mypy must name.
WRONG = [
    ('model.compile("adam", loss=3)', "loss"),
    ("model.compile(optimizer=0.01)", "optimizer"),
    ('model.compile("adam", "mse", metrics=3)', "metrics"),
    ('model.fit(x, y, epochs="3")', "epochs"),
    ("model.fit(x, y, class_weight=[1.0, 2.0])", "class_weight"),
    ("model.evaluate(x, y, steps=2.5)", "steps"),
]


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user_code")
    (folder / "usual.py").write_text(HEADER + USUAL)
    (folder / "wrong.py").write_text(HEADER + "\n".join(call for call, _ in WRONG) + "\n")
    out, err, _ = mypy_api.run([str(folder / "usual.py"), str(folder / "wrong.py"),
                                "--follow-imports=silent", "--ignore-missing-imports",
                                "--cache-dir", str(folder / ".mypy_cache")])
    return out + err


def test_the_usual_calls_type_check(mypy_report):
    assert not re.findall(r"usual\.py:\d+: error.*", mypy_report), mypy_report


@pytest.mark.parametrize("index", range(len(WRONG)), ids=[name for _, name in WRONG])
def test_a_wrong_kind_of_argument_is_reported_on_its_line(mypy_report, index):
    line = HEADER.count("\n") + 1 + index
    errors = re.findall(rf"wrong\.py:{line}: error: (.*)", mypy_report)
    assert any(f'"{WRONG[index][1]}"' in error or f"{WRONG[index][1]!r}" in error
               for error in errors), mypy_report
