"""Keras ports run Keras itself (torch backend) as the reference, so the backend is set first."""

import os

os.environ["KERAS_BACKEND"] = "torch"  # before any test module imports keras
