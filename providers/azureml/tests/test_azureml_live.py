"""The live acceptance run on Azure ML (``cloudserve.testing.live``).

Off unless ``CLOUDSERVE_LIVE=azureml``; then ``CLOUDSERVE_LIVE_TARGETS`` names a YAML file
with ``targets: {azureml: {subscription_id, resource_group, workspace}}`` and
``CLOUDSERVE_LIVE_BUDGET_USD`` confirms the ceiling the run prints.
``CLOUDSERVE_LIVE_REHEARSAL=1`` runs it on the emulator.
"""

from cloudserve.testing import live

pytestmark = live.mark("azureml")
TestLiveConformance, TestLiveRollout, TestLiveDrift = live.suites("azureml")
