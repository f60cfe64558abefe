"""cloudserve's Azure ML target: managed online endpoints, and an offline emulator.

Importing this package is cheap; azure-ai-ml is imported only when a client is used.
"""

from __future__ import annotations

__version__ = "0.1.0"
