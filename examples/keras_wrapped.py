"""Porting by wrapping: a Keras 3 model kept as it is, trained by kerasish.

The model is Keras code, unchanged: a functional model with BatchNormalization, Dropout and two
named outputs (which digit, and whether it is even). Under the torch backend a Keras model is a
``torch.nn.Module``, so the port changes two lines: ``model = ks.Model(keras_model)`` and the
``compile`` call's home. BatchNorm and Dropout behave as in ``keras_model.fit`` (Keras's
``training`` flag is passed), losses, metrics and loss weights are keyed by the output names,
``predict`` returns Keras's structure (a dict here), and ``summary()`` is Keras's table.

    KERAS_BACKEND=torch python examples/keras_wrapped.py          # ~20 s on a laptop CPU
    python examples/keras_wrapped.py --small                       # a quick smoke run
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # must come before Keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import kerasish as ks  # noqa: E402


def build_keras_model() -> keras.Model:
    """Keras code, as it would be in a Keras script."""
    inputs = keras.Input(shape=(64,), name="pixels")
    x = keras.layers.Dense(128, activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dropout(0.3)(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    digit = keras.layers.Dense(10, name="digit")(x)
    parity = keras.layers.Dense(1, activation="sigmoid", name="parity")(x)
    return keras.Model(inputs, {"digit": digit, "parity": parity})


def load(small: bool):
    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int64")
    if small:
        x, y = x[:600], y[:600]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)

    def targets(labels):
        return {"digit": labels, "parity": (labels % 2 == 0).astype("float32")[:, None]}

    return (x_train, targets(y_train)), (x_test, targets(y_test))


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--small", action="store_true", help="600 samples, 3 epochs")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load(args.small)

    keras_model = build_keras_model()
    model = ks.Model(keras_model, device="cpu")          # was: model = keras_model
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),           # Keras objects are used Keras's way
        loss={"digit": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              "parity": "binary_crossentropy"},
        loss_weights={"digit": 1.0, "parity": 0.5},
        metrics={"digit": ["accuracy"], "parity": ["accuracy"]},
    )
    model.summary()
    model.fit(x_train, y_train, batch_size=32, epochs=3 if args.small else args.epochs,
              validation_split=0.1, verbose=0 if args.small else 2,
              callbacks=[ks.callbacks.EarlyStopping(patience=3, restore_best_weights=True)])
    results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    predictions = model.predict(x_test[:5], verbose=0)   # a dict, as keras_model.predict gives
    print("test:", ", ".join(f"{k}={v:.4f}" for k, v in results.items()))
    print("first predicted digits:", np.argmax(predictions["digit"], axis=1).tolist(),
          "true:", y_test["digit"][:5].tolist())
    return results


if __name__ == "__main__":
    main()
