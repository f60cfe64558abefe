"""The Azure ML live acceptance module, rehearsed on the emulator in a child pytest
(``CLOUDSERVE_LIVE_REHEARSAL=1``): the names, tags, budget gate, real waits, background
traffic and clean-up the live run uses, everything but the cloud itself."""

from pathlib import Path

from cloudserve.testing.rehearsal import RehearsalSuite


class TestLiveRehearsal(RehearsalSuite):
    target = "azureml"
    module = Path(__file__).with_name("test_azureml_live.py")
    ceiling = "1.73"
    size = "Standard_F2s_v2 at $0.0850/h"
