"""Sizing Explorer: watch neural networks choose their own size while they train.

``explorer.Explorer`` and ``explorer.Sweep`` (the notebook entry points) are imported lazily,
so the CLI and the headless trainer do not pay for Panel's import.
"""


def __getattr__(name: str):
    if name == "Explorer":
        from explorer.notebook import Explorer

        return Explorer
    if name == "Sweep":
        from explorer.sweep.notebook import Sweep

        return Sweep
    raise AttributeError(f"module 'explorer' has no attribute '{name}'")
