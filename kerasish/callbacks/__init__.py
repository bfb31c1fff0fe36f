"""Keras-compatible callbacks: subclass ``Callback`` and pass instances to ``fit``."""

from kerasish.callbacks.base import Callback, CallbackList
from kerasish.callbacks.history import History
from kerasish.callbacks.progbar import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
