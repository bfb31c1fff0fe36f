"""Warnings that point at the user's line, not at kerasish's.

A warning raised inside a callback hook is several kerasish frames below the user's ``fit`` call;
a fixed ``stacklevel`` names ``callbacks/base.py`` (the hook dispatch) or ``trainer/loops.py``.
``warn_user`` names the first frame outside the kerasish package instead: Python 3.12's
``skip_file_prefixes`` where it exists, the same walk done by hand on 3.10 and 3.11.

This module imports nothing from kerasish, so every module can use it.
"""

from __future__ import annotations

import inspect
import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning raised by the caller name the user's frame."""
    frame = inspect.currentframe()
    level = 0
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return max(level, 1)


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the user's line that led here.

    Example:
        warn_user("EarlyStopping: monitor 'val_loss' is not in the logs ...")
    """
    if sys.version_info >= (3, 12):
        warnings.warn(message, category, skip_file_prefixes=(_PACKAGE,))
    else:
        # user_stacklevel counts its own frame; warnings.warn's level 1 is this function's frame
        warnings.warn(message, category, stacklevel=user_stacklevel())
