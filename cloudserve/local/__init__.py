"""The local target: real HTTP endpoints on this machine, one server process per deployment.

This package only spawns processes and speaks HTTP to them; the model-serving runtime
(scikit-learn, uvicorn, ...) lives in :mod:`cloudserve.serving` and is imported by the
server process, never here, so that `plan` and `status` stay fast.
"""

from __future__ import annotations
