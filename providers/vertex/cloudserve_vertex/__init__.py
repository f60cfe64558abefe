"""cloudserve's Google Vertex AI target.

Importing this package imports no Google SDK: the SDK (about 2 s to import) is loaded
only when the target talks to Vertex AI, inside :mod:`cloudserve_vertex.client`.
"""

from __future__ import annotations

__version__ = "0.1.0"
