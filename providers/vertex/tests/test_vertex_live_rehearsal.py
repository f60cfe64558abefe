"""The Vertex AI live acceptance module, rehearsed on the emulator in a child pytest
(``CLOUDSERVE_LIVE_REHEARSAL=1``): the names, tags, budget gate, real waits, background
traffic and clean-up the live run uses, everything but the cloud itself."""

from pathlib import Path

from cloudserve.testing.rehearsal import RehearsalSuite


class TestLiveRehearsal(RehearsalSuite):
    target = "vertex"
    module = Path(__file__).with_name("test_vertex_live.py")
    ceiling = "1.16"
    size = "e2-highcpu-2 at $0.0569/h"
