"""Failures are failures (issue 14, item 6): error answers raise, every CLI failure is one
bounded line without a traceback (unless --debug), and repeated problems are collapsed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cloudserve import api
from cloudserve.cli import main
from cloudserve.errors import (
    MAX_PROBLEMS_JSON,
    MAX_PROBLEMS_SHOWN,
    InvalidSpec,
    InvokeFailed,
    NotFound,
    SpecProblem,
    bounded,
    render_problems,
)
from cloudserve.provider import InvokeResult
from cloudserve.testing.fake import FakeCloud, FakeProvider
from cloudserve.testing.specs import EXAMPLE_YAML
from cloudserve.waiting import call_with_retry


class AnsweringProvider(FakeProvider):
    """A target whose endpoint answers every request with one fixed status and body."""

    def __init__(self, status: int, body: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.status, self.body, self.calls = status, body, 0

    def invoke(self, name: str, payload: Any, *, version: str | None = None) -> InvokeResult:
        self.calls += 1
        return InvokeResult(self.body, version or "stable", self.status, 1.0)


@pytest.fixture(autouse=True)
def fake_target(monkeypatch: pytest.MonkeyPatch, cloud: FakeCloud) -> FakeCloud:
    monkeypatch.setattr(
        api, "provider_for", lambda d, offline=False: FakeProvider(cloud=cloud, offline=offline)
    )
    return cloud


def answering(monkeypatch: pytest.MonkeyPatch, status: int, body: Any) -> AnsweringProvider:
    provider = AnsweringProvider(status, body)
    monkeypatch.setattr(api, "provider_for", lambda d, offline=False: provider)
    return provider


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


# --- 1. an error answer from the endpoint is an error -------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"), [(400, "client"), (422, "client"), (500, "server"), (503, "server")]
)
def test_api_invoke_raises_on_error_answer_without_retrying(
    spec: dict[str, Any], status: int, kind: str
) -> None:
    provider = AnsweringProvider(status, {"error": "instances must be a list of rows"})
    with pytest.raises(InvokeFailed) as info:
        api.invoke(spec, {"instances": 3}, provider=provider)
    exc = info.value
    assert provider.calls == 1  # answered, so not retried (a 4xx must never be)
    assert exc.status_code == status and exc.client_error is (kind == "client")
    assert exc.details["status_code"] == status and exc.details["kind"] == kind
    assert "instances must be a list of rows" in str(exc.details["body"])
    assert f"HTTP {status}" in exc.message and "churn" in exc.message
    assert exc.exit_code == 1 and not exc.retryable


def test_api_invoke_success_is_unchanged(spec: dict[str, Any]) -> None:
    result = api.invoke(spec, {"instances": [[1]]}, provider=AnsweringProvider(200, {"predictions": [1]}))
    assert result.status_code == 200 and result.body == {"predictions": [1]}


def test_invoke_failed_is_not_retried_by_call_with_retry() -> None:
    calls: list[int] = []

    def refuse() -> None:
        calls.append(1)
        raise InvokeFailed.from_answer("churn", 429, "slow down", version=None, target="fake")

    with pytest.raises(InvokeFailed):
        call_with_retry(refuse, sleep=lambda s: None)
    assert calls == [1]


def test_invoke_failed_body_excerpt_is_bounded(spec: dict[str, Any]) -> None:
    with pytest.raises(InvokeFailed) as info:
        api.invoke(spec, {}, provider=AnsweringProvider(500, "x" * 1_000_000 + "\nTraceback"))
    assert len(str(info.value.details["body"])) < 600 and "1,000,010 chars" in str(info.value.details["body"])
    assert len(str(info.value)) < 1000 and "\nTraceback" not in info.value.message


def test_cli_invoke_exits_non_zero_on_4xx_and_5xx(
    spec_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answering(monkeypatch, 400, {"error": "bad rows"})
    code, out, err = run(["invoke", str(spec_file), "-d", '{"instances": 3}'], capsys)
    assert code == 1 and out == ""
    assert "InvokeFailed" in err and "HTTP 400 Bad Request" in err and "bad rows" in err
    assert "Traceback" not in err
    code, out, err = run(["invoke", str(spec_file), "-d", "{}", "-o", "json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["error"] == "InvokeFailed"
    assert data["status_code"] == 400 and data["kind"] == "client" and "bad rows" in data["body"]

    answering(monkeypatch, 503, "model is loading")
    code, out, _ = run(["invoke", str(spec_file), "-d", "{}", "-o", "json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["status_code"] == 503 and data["kind"] == "server"


# --- 2. an unreadable --data file is one line naming it -----------------------------------


def test_invoke_data_file_problems_are_one_line(
    spec_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.json"
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for path, reason in [
        (missing, "No such file or directory"),
        (tmp_path, "Is a directory"),
        (binary, "not UTF-8"),
    ]:
        code, out, err = run(["invoke", str(spec_file), "-d", f"@{path}"], capsys)
        assert code == 2, err
        assert err.count("\n") == 1 and str(path) in err and reason in err, err
        assert "Traceback" not in err
    code, out, _ = run(["invoke", str(spec_file), "-d", f"@{missing}", "-o", "json"], capsys)
    assert code == 2 and json.loads(out)["error"] == "InvalidInput"


def test_invoke_data_not_json_has_no_usage_dump(spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["invoke", str(spec_file), "-d", "nope"], capsys)
    assert code == 2 and "is not JSON" in err and "Usage:" not in err


# --- 3. unexpected exceptions: one line, unless --debug -----------------------------------


@pytest.mark.parametrize(
    "exc", [OSError(28, "No space left on device"), ValueError("bad\nvalue"), KeyError("x")]
)
def test_unexpected_exception_is_one_line(
    exc: Exception, spec_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*a: Any, **k: Any) -> None:
        raise exc

    monkeypatch.setattr(api, "status", boom)
    code, out, err = run(["status", str(spec_file)], capsys)
    name = type(exc).__name__
    assert code == 1 and out == ""
    assert err.startswith(f"error: {name}: ") and err.endswith(" (run with --debug for the traceback)\n")
    assert err.count("\n") == 1 and "Traceback" not in err

    code, out, _ = run(["status", str(spec_file), "-o", "json"], capsys)
    assert code == 1 and json.loads(out)["error"] == name

    with pytest.raises(type(exc)):
        main(["--debug", "status", str(spec_file)])


def test_keyboard_interrupt_is_130(
    spec_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*a: Any, **k: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "status", interrupted)
    code, _, err = run(["status", str(spec_file)], capsys)
    assert code == 130 and "interrupted" in err


# --- 4. output is bounded -----------------------------------------------------------------


def test_bounded_cuts_each_long_value_and_says_how_long() -> None:
    name = "a" * 10_000_000
    text = bounded(f"deployment {name!r} is not valid: must be at most 63 characters")
    assert len(text) < 400
    assert "… (10,000,002 chars)" in text and text.endswith("must be at most 63 characters")
    assert bounded("short message") == "short message"


def test_long_name_in_spec_is_not_echoed_whole(spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_file.write_text(EXAMPLE_YAML.replace("name: churn", "name: " + "a" * 1_000_000, 1))
    code, out, err = run(["validate", str(spec_file)], capsys)
    assert code == 2 and len(err) < 1000 and "chars)" in err
    code, out, _ = run(["validate", str(spec_file), "-o", "json"], capsys)
    assert code == 2 and len(out) < 3000 and json.loads(out)["error"] == "InvalidSpec"


def test_long_values_in_any_error_are_cut(
    spec_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = "n" * 10_000_000

    def missing(*a: Any, **k: Any) -> None:
        raise NotFound(f"deployment {huge} does not exist", hint=huge, details={"name": huge})

    monkeypatch.setattr(api, "status", missing)
    code, out, err = run(["status", str(spec_file)], capsys)
    assert code == 4 and len(err) < 1000 and "(10,000,000 chars)" in err
    code, out, _ = run(["status", str(spec_file), "-o", "json"], capsys)
    assert code == 4 and len(out) < 2000 and json.loads(out)["name"].endswith("(10,000,000 chars)")

    def broken(*a: Any, **k: Any) -> None:
        raise ValueError(huge)

    monkeypatch.setattr(api, "status", broken)
    code, _, err = run(["status", str(spec_file)], capsys)
    assert code == 1 and len(err) < 1000


def test_many_duplicate_deployments_collapse_to_one_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    for i in range(300):  # 2,000 takes seconds; the shape is the same
        (specs / f"d{i:04}.yaml").write_text(EXAMPLE_YAML)
    code, _, err = run(["validate", str(specs)], capsys)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) <= 5, lines[:10]
    assert "defined twice (first in" in lines[0] and "d0000.yaml" in lines[0]
    assert "… and 298 more like this" in err
    code, out, _ = run(["validate", str(specs), "-o", "json"], capsys)
    data = json.loads(out)
    assert len(data["problems"]) == 1 and data["problems"][0]["count"] == 299


def test_duplicate_documents_in_one_file_collapse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "dup.yaml"
    spec.write_text("\n---\n".join([EXAMPLE_YAML] * 100))  # the parser's document limit
    code, _, err = run(["validate", str(spec)], capsys)
    assert code == 2 and len(err.splitlines()) <= 5 and "98 more like this" in err
    assert f"{spec}:4" in err  # names the first definition's line


def test_distinct_problems_are_capped() -> None:
    problems = [SpecProblem(f"problem {i}", file="a.yaml", line=i) for i in range(MAX_PROBLEMS_SHOWN + 30)]
    lines = render_problems(problems).splitlines()
    assert len(lines) == MAX_PROBLEMS_SHOWN + 1 and lines[-1] == "… and 30 more problems not shown"
    many = [SpecProblem(f"problem {i}", file="a.yaml") for i in range(MAX_PROBLEMS_JSON + 50)]
    data = InvalidSpec("bad", problems=many).to_dict()
    assert len(data["problems"]) == MAX_PROBLEMS_JSON and data["problems_omitted"] == 50  # type: ignore[arg-type]


def test_status_failure_reasons_are_bounded() -> None:
    from cloudserve.api import StatusResult, VersionStatus
    from cloudserve.output import render_status

    reason = "CloudWatch: " + "x" * 1_000_000
    result = StatusResult(
        "churn",
        "fake",
        True,
        "failed",
        False,
        failure_reason=reason,
        versions=[VersionStatus("stable", "failed", 100, 0, None, True, failure_reason=reason)],
    )
    text = render_status(result)
    assert len(text) < 2000 and text.count("(1,000,000 chars)") == 2
