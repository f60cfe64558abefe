"""The model-serving runtime: one process that loads models and answers predictions.

Two ways in, sharing one hot path (:mod:`cloudserve.serving.app`):

- ``python -m cloudserve.serving.local_server``: the local target's multi-version server
  (weighted routing, mirroring, an admin API, capture), driven by ``cloudserve.local``.
- ``cloudserve serve``: the single-model server shipped in cloud containers; it answers the
  SageMaker, Vertex AI and Azure ML container contracts, picked from the environment.

Importing this package stays cheap: heavy libraries (numpy, scikit-learn, uvicorn) are
imported only by the modules that need them.
"""

from __future__ import annotations
