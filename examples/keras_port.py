"""Keras's "Simple MNIST convnet" example, ported line by line to PyTorch + kerasish.

Each block shows the Keras original in comments and its port beneath. What changes: layers are
torch modules (channels first, so images are (N, 1, 28, 28) and the Dense layer states its input
size), and ``keras.Model`` becomes ``ks.Model(module)``. compile / fit / evaluate and their
arguments stay as they were.

    python examples/keras_port.py               # bundled digits at 28x28, no download
    python examples/keras_port.py --data mnist  # real MNIST, as in the Keras example
    python examples/keras_port.py --small       # a few seconds, for smoke tests
"""

from __future__ import annotations

import argparse

# import numpy as np
# import keras
# from keras import layers
import numpy as np
import torch
from torch import nn

import kerasish as ks

from common import load_images

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", choices=["digits", "mnist"], default="digits")
parser.add_argument("--small", action="store_true", help="2 epochs on a few hundred images")
parser.add_argument("--plot", default="history.png", help="where to save the training curves")
args = parser.parse_args()
torch.manual_seed(0)

# ## Prepare the data

# # Model / data parameters
# num_classes = 10
# input_shape = (28, 28, 1)
num_classes = 10
input_shape = (1, 28, 28)  # channels first in PyTorch

# # Load the data and split it between train and test sets
# (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
#
# # Scale images to the [0, 1] range
# x_train = x_train.astype("float32") / 255
# x_test = x_test.astype("float32") / 255
# # Make sure images have shape (28, 28, 1)
# x_train = np.expand_dims(x_train, -1)
# x_test = np.expand_dims(x_test, -1)
(x_train, y_train), (x_test, y_test) = load_images(args.data, small=args.small)  # already scaled,
# already (N, 1, 28, 28)

# print("x_train shape:", x_train.shape)
# print(x_train.shape[0], "train samples")
# print(x_test.shape[0], "test samples")
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# # convert class vectors to binary class matrices
# y_train = keras.utils.to_categorical(y_train, num_classes)
# y_test = keras.utils.to_categorical(y_test, num_classes)
y_train = np.eye(num_classes, dtype="float32")[y_train]
y_test = np.eye(num_classes, dtype="float32")[y_test]

# ## Build the model

# model = keras.Sequential(
#     [
#         keras.Input(shape=input_shape),
#         layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
#         layers.MaxPooling2D(pool_size=(2, 2)),
#         layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
#         layers.MaxPooling2D(pool_size=(2, 2)),
#         layers.Flatten(),
#         layers.Dropout(0.5),
#         layers.Dense(num_classes, activation="softmax"),
#     ]
# )
model = ks.Model(
    nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=(3, 3)), nn.ReLU(),
        nn.MaxPool2d(kernel_size=(2, 2)),
        nn.Conv2d(32, 64, kernel_size=(3, 3)), nn.ReLU(),
        nn.MaxPool2d(kernel_size=(2, 2)),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(64 * 5 * 5, num_classes), nn.Softmax(dim=-1),
    )
)

# model.summary()
model.summary(input_shape=input_shape)

# ## Train the model

# batch_size = 128
# epochs = 15
batch_size = 128
epochs = 2 if args.small else 15

# model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

# model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)
history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)

# ## Evaluate the trained model

# score = model.evaluate(x_test, y_test, verbose=0)
# print("Test loss:", score[0])
# print("Test accuracy:", score[1])
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

# Not in the Keras example: the training curves, saved as a picture.
history.plot().savefig(args.plot)
print("training curves saved to", args.plot)
