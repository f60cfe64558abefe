"""A pytest plugin, installed with cloudserve-azureml, for users' own tests of the emulator.

azure-ai-ml's schemas trip marshmallow's deprecation warnings on import and on every
entity it builds: hundreds per test run, none of them about the user's code. The project
filters them in its own pyproject; this plugin brings the same filter to any test suite
that has the provider installed (registered under the ``pytest11`` entry point), and only
when marshmallow is there to name the warning classes.
"""

from __future__ import annotations

import importlib.util
from typing import Any

FILTERS = (
    "ignore::marshmallow.warnings.RemovedInMarshmallow4Warning",
    "ignore::marshmallow.warnings.ChangedInMarshmallow4Warning",
)


def pytest_configure(config: Any) -> None:
    if importlib.util.find_spec("marshmallow") is None:
        return
    import marshmallow.warnings as mw

    for line in FILTERS:
        if hasattr(mw, line.rsplit(".", 1)[1]):  # a class a future marshmallow dropped is skipped
            config.addinivalue_line("filterwarnings", line)
