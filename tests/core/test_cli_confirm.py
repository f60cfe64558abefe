"""Issue 18 item 3: apply asks on a terminal unless --yes/--auto-approve, and never off one (CI).

The terminal cases run the CLI in a child process whose standard input is a real
pseudo-terminal, so the check is the one a person at a shell meets, not a patched isatty.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloudserve import api
from cloudserve.cli import main
from cloudserve.testing.fake import FakeCloud, FakeProvider

# The child: the CLI against an in-memory target; prints how many endpoints exist after it ran.
_CHILD = """
import sys
from cloudserve import api
from cloudserve.cli import main
from cloudserve.testing.fake import FakeCloud, FakeProvider
cloud = FakeCloud()
api.provider_for = lambda d, offline=False: FakeProvider(cloud=cloud, offline=offline)
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(f"ENDPOINTS={len(cloud.endpoints)} EXIT={code}", file=sys.stderr)
"""


def _on_a_terminal(args: list[str], answer: bytes | None) -> str:
    """Run ``cloudserve ARGS`` with a pseudo-terminal as stdin; type ANSWER once asked."""
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *args],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(terminal)
    if answer is not None:
        time.sleep(0.1)  # the terminal buffers the line until the prompt reads it
        os.write(controller, answer)
    out, err = child.communicate(timeout=60)
    os.close(controller)
    return out.decode() + err.decode()


def test_apply_on_a_terminal_asks_and_no_changes_nothing(spec_file: Path) -> None:
    shown = _on_a_terminal(["apply", str(spec_file)], b"n\n")
    assert "create endpoint churn" in shown and "Apply these changes? [y/N]" in shown
    assert "apply cancelled: nothing changed" in shown
    assert "ENDPOINTS=0 EXIT=1" in shown


def test_apply_on_a_terminal_applies_after_yes(spec_file: Path) -> None:
    shown = _on_a_terminal(["apply", str(spec_file)], b"y\n")
    assert "Apply these changes? [y/N]" in shown and "applied churn" in shown
    assert "ENDPOINTS=1 EXIT=0" in shown


@pytest.mark.parametrize("flag", ["--yes", "-y", "--auto-approve"])
def test_apply_on_a_terminal_with_auto_approve_does_not_ask(spec_file: Path, flag: str) -> None:
    shown = _on_a_terminal(["apply", str(spec_file), flag], None)
    assert "create endpoint churn" in shown  # the plan is still shown, as terraform does
    assert "Apply these changes?" not in shown and "ENDPOINTS=1 EXIT=0" in shown


def test_apply_on_a_terminal_in_json_mode_asks_on_stderr(spec_file: Path) -> None:
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, "apply", str(spec_file), "-o", "json"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    time.sleep(0.1)
    os.write(controller, b"y\n")
    out, err = child.communicate(timeout=60)
    os.close(controller)
    assert json.loads(out)["changed"] is True  # stdout is the result alone
    assert "Apply these changes?" in err.decode()


def test_apply_off_a_terminal_never_asks(
    spec_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI: standard input is a pipe (here pytest's), so apply goes ahead without a question."""
    cloud = FakeCloud()
    monkeypatch.setattr(api, "provider_for", lambda d, offline=False: FakeProvider(cloud=cloud))
    assert not sys.stdin.isatty()
    main(["apply", str(spec_file)])
    out, err = capsys.readouterr()
    assert "churn" in cloud.endpoints
    assert "create endpoint churn" in out and "Apply these changes?" not in out + err
