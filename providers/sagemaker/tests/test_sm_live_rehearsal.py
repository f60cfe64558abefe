"""The SageMaker live acceptance module, rehearsed on the emulator in a child pytest
(``CLOUDSERVE_LIVE_REHEARSAL=1``): the names, tags, budget gate, real waits, background
traffic and clean-up the live run uses, everything but the cloud itself."""

from pathlib import Path

from cloudserve.testing.rehearsal import RehearsalSuite


class TestLiveRehearsal(RehearsalSuite):
    target = "sagemaker"
    module = Path(__file__).with_name("test_sm_live.py")
    ceiling = "2.07"
    size = "ml.c5.large at $0.1020/h"
