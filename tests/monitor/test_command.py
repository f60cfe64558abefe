"""``cloudserve monitor report|run`` end to end on files written by the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from cloudserve.monitor.command import EXIT_DRIFT, EXIT_NOT_JUDGED, monitor
from cloudserve.testing.webhook import webhook_receiver

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

PLANS = ["basic", "plus", "pro"]


def write_baseline(path: Path, rows: int = 3000) -> Path:
    rng = np.random.default_rng(0)
    lines = ["age,income,plan"]
    for _ in range(rows):
        lines.append(f"{rng.normal(40, 12):.2f},{rng.lognormal(10, 0.5):.2f},{rng.choice(PLANS)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_capture(path: Path, rows: int, income_shift: float, minutes_ago: int = 5) -> Path:
    rng = np.random.default_rng(1)
    stamp = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()
    with path.open("a") as handle:
        for _ in range(rows):
            instance = [
                float(rng.normal(40, 12)),
                float(rng.lognormal(10 + income_shift, 0.5)),
                str(rng.choice(PLANS)),
            ]
            record = {"ts": stamp, "version": "stable", "request": {"instances": [instance]}, "response": {}}
            handle.write(json.dumps(record) + "\n")
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "baseline": write_baseline(tmp_path / "train.csv"),
        "shifted": write_capture(tmp_path / "shifted.jsonl", 1500, 0.6),
        "clean": write_capture(tmp_path / "clean.jsonl", 1500, 0.0),
    }


def invoke(*args: str) -> Any:
    return CliRunner().invoke(monitor, list(args), catch_exceptions=False)


def test_report_writes_json_and_a_self_contained_page(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = invoke(
        "report", "--baseline", str(files["baseline"]), "--current", str(files["shifted"]), "--out", str(out)
    )
    assert result.exit_code == EXIT_DRIFT, result.output  # as `run` exits (issue 17)
    payload = json.loads((out / "report.json").read_text())
    assert payload["drifted_features"] == ["income"]
    assert payload["features"][0]["name"] == "income"
    page = (out / "report.html").read_text()
    for external in ("<script", "<link", "src=", "@import", "url("):
        assert external not in page
    assert page.count("<svg") == 3
    assert page.index('id="f-income"') < page.index('id="f-age"')


def test_run_exits_3_on_drift_and_0_otherwise(files: dict[str, Path]) -> None:
    baseline = str(files["baseline"])
    drifted = invoke("run", "--baseline", baseline, "--current", str(files["shifted"]))
    assert drifted.exit_code == EXIT_DRIFT
    assert "income: drift" in drifted.output
    clean = invoke("run", "--baseline", baseline, "--current", str(files["clean"]), "--output", "json")
    assert clean.exit_code == 0
    assert json.loads(clean.output)["status"] == "ok"


def test_run_options_narrow_and_override(files: dict[str, Path]) -> None:
    common = ["run", "--baseline", str(files["baseline"]), "--current", str(files["shifted"])]
    assert invoke(*common, "--feature-threshold", "income=50").exit_code == 0
    assert invoke(*common, "--features", "age,plan").exit_code == 0
    empty = invoke(*common, "--version", "candidate", "-o", "json")
    assert empty.exit_code == EXIT_NOT_JUDGED  # an empty window judges nothing: not "no drift"
    assert json.loads(empty.output)["status"] == "empty_window"
    assert invoke(*common, "--window", "1m").exit_code == EXIT_NOT_JUDGED  # records are 5 minutes old
    assert invoke(*common, "--window", "1h").exit_code == EXIT_DRIFT
    assert invoke(*common, "--method", "psi").exit_code == EXIT_DRIFT


def test_bad_input_is_an_error_message_not_a_traceback(files: dict[str, Path], tmp_path: Path) -> None:
    missing = invoke("run", "--baseline", str(tmp_path / "nope.csv"), "--current", str(files["clean"]))
    assert missing.exit_code == 1 and "no such file" in missing.output
    bad = invoke(
        "run",
        "--baseline",
        str(files["baseline"]),
        "--current",
        str(files["clean"]),
        "--feature-threshold",
        "x",
    )
    assert bad.exit_code == 2
    assert invoke("run", "--current", str(files["clean"])).exit_code == 2


def test_spec_supplies_baseline_thresholds_and_window(files: dict[str, Path], tmp_path: Path) -> None:
    spec = tmp_path / "deploy.yaml"
    spec.write_text(
        "apiVersion: cloudserve/v1\nkind: Deployment\nmetadata: {name: churn}\n"
        "spec:\n  versions:\n    stable:\n      model: {uri: ./model, framework: sklearn}\n"
        "  monitoring:\n    drift: {baseline: ./train.csv, schedule: hourly, thresholds: {income: 50}}\n"
    )
    assert invoke("run", "--spec", str(spec), "--current", str(files["shifted"])).exit_code == 0
    overridden = invoke(
        "run", "--spec", str(spec), "--current", str(files["shifted"]), "--feature-threshold", "income=0.1"
    )
    assert overridden.exit_code == EXIT_DRIFT
    # The spec is positional like on every other verb (issue 18 item 3); --spec stays an alias.
    positional = invoke(
        "run", str(spec), "--current", str(files["shifted"]), "--feature-threshold", "income=0.1"
    )
    assert positional.exit_code == EXIT_DRIFT
    both = CliRunner().invoke(monitor, ["run", str(spec), "--spec", str(files["baseline"])])
    assert both.exit_code == 2 and "give the spec once" in both.output


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    with webhook_receiver() as received:
        yield received


def test_drift_is_posted_to_the_webhook(
    files: dict[str, Path], hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    common = ["run", "--baseline", str(files["baseline"]), "--webhook", url]
    assert invoke(*common, "--current", str(files["clean"])).exit_code == 0
    assert received == []
    assert invoke(*common, "--current", str(files["shifted"])).exit_code == EXIT_DRIFT
    assert [f["name"] for f in received[0]["drifted_features"]] == ["income"]
    assert received[0]["text"].startswith("DRIFT")


def test_an_unreachable_webhook_warns_but_keeps_the_verdict(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        monitor,
        [
            "run",
            "--baseline",
            str(files["baseline"]),
            "--current",
            str(files["shifted"]),
            "--webhook",
            "ftp://x",
        ],
    )
    assert result.exit_code == EXIT_DRIFT
    assert "not delivered" in result.output


def test_a_scheduled_run_judges_the_last_interval_and_keeps_a_report(
    files: dict[str, Path], tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    from cloudserve.monitor.config import DriftConfig
    from cloudserve.monitor.job import run_once

    url, received = hook
    capture = tmp_path / "capture"
    capture.mkdir()
    write_capture(capture / "old.jsonl", 800, 0.6, minutes_ago=180)  # shifted, but hours ago
    write_capture(capture / "recent.jsonl", 800, 0.0, minutes_ago=10)
    config = DriftConfig(baseline=str(files["baseline"]), schedule="hourly", webhook=url)
    quiet = run_once(config, capture, reports=tmp_path / "reports")
    assert quiet.result.current_rows == 800 and not quiet.result.drifted and not quiet.alerted
    assert quiet.report_dir is not None and (quiet.report_dir / "report.html").exists()
    daily = run_once(DriftConfig(baseline=config.baseline, schedule="daily", webhook=url), capture)
    assert daily.result.current_rows == 1600 and daily.result.drifted_features == ["income"]
    assert daily.alerted and len(received) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--threshold", "nan"], "nan is not a positive number"),
        (["--threshold", "inf"], "inf is not a positive number"),
        (["--threshold", "-1"], "-1.0 is not a positive number"),
        (["--method", "ks", "--threshold", "0"], "0.0 is not a positive number"),
        (["--method", "ks", "--threshold", "2"], "must lie between 0 and 1"),
        (["--method", "chi2", "--feature-threshold", "city=1"], "thresholds.city: 1.0 is a significance"),
    ],
)
def test_a_threshold_that_means_nothing_is_refused(
    files: dict[str, Path], args: list[str], says: str
) -> None:
    """Issue 17: NaN made nothing ever drift; a p-value threshold of 2 made everything drift."""
    result = CliRunner().invoke(
        monitor, ["run", "--baseline", str(files["baseline"]), "--current", str(files["shifted"]), *args]
    )
    assert result.exit_code == 2 and says in result.output, result.output


def test_the_spec_refuses_the_same_thresholds() -> None:
    from cloudserve.errors import InvalidSpec
    from cloudserve.spec.models import Drift

    with pytest.raises((InvalidSpec, ValueError), match="must lie between 0 and 1"):
        Drift(baseline="train.csv", method="ks", threshold=2)
    with pytest.raises((InvalidSpec, ValueError), match="not a positive number"):
        Drift(baseline="train.csv", thresholds={"age": float("nan")})
    with pytest.raises((InvalidSpec, ValueError)):
        Drift(baseline="train.csv", threshold=float("inf"))
    assert Drift(baseline="train.csv", method="ks", threshold=0.01).threshold == 0.01


def test_unprofiled_baseline_columns_keep_their_reason(tmp_path: Path) -> None:
    """Issue 17: an all-empty baseline column and a date column both read as
    'not_in_baseline'; they are baseline_empty and unsupported."""
    rows = "".join(f"{i * 0.37 % 5},,2024-01-{i % 28 + 1:02d}\n" for i in range(300))
    (tmp_path / "train.csv").write_text("x,empty,when\n" + rows)
    (tmp_path / "cur.csv").write_text("x,empty,when\n" + rows)
    result = invoke(
        "run", "--baseline", str(tmp_path / "train.csv"), "--current", str(tmp_path / "cur.csv"), "-o", "json"
    )
    statuses = {f["name"]: f["status"] for f in json.loads(result.output)["features"]}
    assert statuses == {"x": "ok", "empty": "baseline_empty", "when": "unsupported"}
