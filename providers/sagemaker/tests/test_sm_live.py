"""The live acceptance run on SageMaker (``cloudserve.testing.live``).

Off unless ``CLOUDSERVE_LIVE=sagemaker``; then ``CLOUDSERVE_LIVE_TARGETS`` names a YAML file
with ``targets: {sagemaker: {region, role_arn, bucket}}`` and ``CLOUDSERVE_LIVE_BUDGET_USD``
confirms the ceiling the run prints. ``CLOUDSERVE_LIVE_REHEARSAL=1`` runs it on the emulator.
"""

from cloudserve.testing import live

pytestmark = live.mark("sagemaker")
TestLiveConformance, TestLiveRollout, TestLiveDrift = live.suites("sagemaker")
