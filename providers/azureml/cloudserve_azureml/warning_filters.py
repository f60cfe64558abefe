"""Warnings azure-ai-ml raises on every import and entity it builds, none about users' code.

Its schemas trip marshmallow's deprecation warnings: hundreds per test run. cloudserve's
pytest plugin (cloudserve/testing/pytest_plugin.py) applies these filters in any test
suite that has this provider installed (entry point ``cloudserve.warning_filters``).
Kept free of imports so reading them costs nothing.
"""

FILTERS = (
    "ignore::marshmallow.warnings.RemovedInMarshmallow4Warning",
    "ignore::marshmallow.warnings.ChangedInMarshmallow4Warning",
)
