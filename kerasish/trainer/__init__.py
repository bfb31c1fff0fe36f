"""The training loop, taken apart as Keras 3 takes its own apart.

- ``loops``: ``fit``'s epochs, ``evaluate``, ``predict``, and the checks before them. Start here.
- ``step_functions``: the fused step or the user's, chosen once per run; the optimizer-step count.
- ``engine``: one step: autocast, backward, accumulation, clipping, gradient scaling.
- ``compile_utils``: the compiled loss and metrics, paired with the outputs on the first batch.
- ``logs``: results read from the device once, and only when someone looks.
- ``run_state``: where a fit stands (epoch, step, shuffle seed, a pending resume).
"""
