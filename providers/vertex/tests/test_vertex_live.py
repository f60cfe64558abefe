"""The live acceptance run on Vertex AI (``cloudserve.testing.live``).

Off unless ``CLOUDSERVE_LIVE=vertex``; then ``CLOUDSERVE_LIVE_TARGETS`` names a YAML file
with ``targets: {vertex: {project, location, staging_bucket}}`` and
``CLOUDSERVE_LIVE_BUDGET_USD`` confirms the ceiling the run prints.
``CLOUDSERVE_LIVE_REHEARSAL=1`` runs it on the emulator.
"""

from cloudserve.testing import live

pytestmark = live.mark("vertex")
# predict routes by the traffic split: one deployed model cannot be named (as on the emulator)
TestLiveConformance, TestLiveRollout, TestLiveDrift = live.suites("vertex", per_version_invoke=False)
