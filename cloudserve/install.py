"""How to install a part of cloudserve, said the same way in every hint.

The distributions are not on a package index yet, so ``pip install 'cloudserve-vertex'``
alone fails for everyone; each hint also gives the command that works from a clone of the
repository (the root holds ``cloudserve``, ``providers/<target>`` each provider).
"""

from __future__ import annotations

import re

_NAME = re.compile(r"^(cloudserve(?:-(?P<target>[a-z0-9]+))?)(?P<extras>\[[a-z0-9,_-]+\])?$")


def install_hint(requirement: str) -> str:
    """``pip install 'cloudserve-sagemaker[images]'`` and its from-a-clone form."""
    match = _NAME.match(requirement)
    if match is None:
        return f"pip install {requirement!r}"
    folder = f"./providers/{match['target']}" if match["target"] else "."
    return (
        f"pip install {requirement!r} (from a clone of cloudserve: "
        f"pip install '{folder}{match['extras'] or ''}')"
    )
