"""Keep the garbage collector's full passes short while serving.

A serving process holds a few hundred thousand long-lived objects: the modules of
scikit-learn, scipy and pandas, and the models. CPython's full (generation-2) collection
walks every one of them while the event loop stands still -- 30 to 95 ms on the CI
machine, every few seconds under load, which was nearly all of the p99 latency at
concurrency 8. ``gc.freeze()`` moves everything alive at that moment into a permanent
generation that collections skip, so later passes only walk request-time objects.

It runs once the models are loaded and again after each admin load or delete, with a
full collection first, so the cycles of an unloaded model are freed rather than frozen.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what is garbage now, then hide everything still alive from later passes."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
