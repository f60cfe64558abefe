"""``python -m cloudserve.serving serve|package``: the container entrypoint.

Containers run this rather than the ``cloudserve`` console script so the image needs only
the serving runtime, not the control plane's CLI wiring.
"""

from __future__ import annotations

from cloudserve.serving.command import main

if __name__ == "__main__":
    main()
