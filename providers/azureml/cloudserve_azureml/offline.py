"""``targets.azureml.offline``: the Environment as a Docker build context that carries
every wheel, so Azure's image build needs no package index.

By default Azure ML builds a version's image from the conda file, and pip fetches the
pinned list from PyPI during that build: a workspace whose image builds have no internet
route cannot build it. Offline, the Environment is a build context instead: a Dockerfile
on the same prebuilt inference image, the same exact list in ``requirements.txt``, and the
wheels themselves (fetched here once, for Linux x86_64 / CPython 3.12, by
cloudserve.serving.wheels). The Dockerfile installs them with ``--no-index`` into the
image's own conda environment, ``amlenv``, which is where the prebuilt inference images
run the inference server (Azure/azureml-examples, cli/endpoints/online/custom-container/
minimal: "The inference image uses a conda environment called amlenv").
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from cloudserve.serving.wheels import fetch_wheels

CONDA_ENV = "amlenv"
DOCKERFILE = """\
# Built by cloudserve (targets.azureml.offline): no package index is needed to build it.
FROM {base_image}
COPY requirements.txt /tmp/cloudserve/requirements.txt
COPY wheels/ /tmp/cloudserve/wheels/
RUN conda run -n {env} python -m pip install --no-cache-dir --no-index \\
        --find-links /tmp/cloudserve/wheels -r /tmp/cloudserve/requirements.txt
"""


def dockerfile(base_image: str) -> str:
    return DOCKERFILE.format(base_image=base_image, env=CONDA_ENV)


def context_digest(pins: tuple[str, ...], base_image: str) -> str:
    return hashlib.sha256("\n".join([base_image, *pins]).encode()).hexdigest()[:16]


@cache
def build_context(pins: tuple[str, ...], base_image: str) -> Path:
    """The build context folder (Dockerfile, requirements.txt, wheels/), made once per
    content in this process; azure-ai-ml uploads it as the Environment's build."""
    import atexit
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="cloudserve-azureml-build-"))
    atexit.register(shutil.rmtree, root, True)
    (root / "Dockerfile").write_text(dockerfile(base_image))
    (root / "requirements.txt").write_text("\n".join(pins) + "\n")
    (root / "wheels").mkdir()
    for wheel in fetch_wheels(list(pins)):
        shutil.copy2(wheel, root / "wheels" / wheel.name)
    return root
