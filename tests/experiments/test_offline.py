"""Offline experiments: two evaluation runs compared with the same statistics, from the CLI."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from flightdeck.experiments import ExperimentError
from flightdeck.experiments.offline import compare_runs, read_run
from tests.cli.test_cli import flightdeck


def _write_runs(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(12)
    base = rng.uniform(0.3, 0.9, 200)
    a = [
        {"id": f"q{i}", "recall": r, "latency_ms": 20 + rng.normal(0, 2)}
        for i, r in enumerate(base)
    ]
    b = [
        {
            "id": f"q{i}",
            "recall": min(1.0, r + 0.02 + rng.normal(0, 0.01)),
            "latency_ms": 25 + rng.normal(0, 2),
        }
        for i, r in enumerate(base)
    ]
    run_a, run_b = tmp_path / "index-a.jsonl", tmp_path / "index-b.jsonl"
    run_a.write_text("\n".join(json.dumps(r) for r in a))
    rows = list(reversed(b))  # order differs: pairing is by id
    run_b.write_text(
        "id,recall,latency_ms\n"
        + "".join(f"{r['id']},{r['recall']},{r['latency_ms']}\n" for r in rows)
    )
    return run_a, run_b.rename(tmp_path / "index-b.csv")


def test_paired_runs_find_a_small_recall_gain_that_welch_would_miss(tmp_path: Path) -> None:
    run_a, run_b = _write_runs(tmp_path)
    a, b = read_run(run_a), read_run(run_b)
    paired = {c.metric: c for c in compare_runs(a, b)}
    assert paired["recall"].paired and paired["recall"].difference.absolute_ci[0] > 0
    assert paired["latency_ms"].difference.relative == pytest.approx(0.25, abs=0.03)
    unpaired = {c.metric: c for c in compare_runs(a, b, id_field="missing")}
    assert not unpaired["recall"].paired
    assert unpaired["recall"].difference.absolute_ci[0] < 0  # same data, no pairing: not shown


def test_offline_command_prints_a_table_and_writes_a_png(tmp_path: Path) -> None:
    run_a, run_b = _write_runs(tmp_path)
    out = flightdeck(
        "experiments", "offline", str(run_a), str(run_b), "--plot", "ab.png", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert "recall" in out.stdout and "latency_ms" in out.stdout and "paired by id" in out.stdout
    assert (tmp_path / "ab.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_comparisons_serialise_to_json() -> None:
    rows_a = [{"id": i, "m": float(i)} for i in range(5)]
    rows_b = [{"id": i, "m": float(i) + 1 + 0.1 * (i % 2)} for i in range(5)]
    (only,) = compare_runs(rows_a, rows_b)
    data = json.loads(json.dumps(only.to_dict()))
    assert data["metric"] == "m" and data["paired"] is True and data["items"] == [5, 5]
    assert data["absolute"] == pytest.approx(1.04)


def test_a_bad_result_file_is_one_line_naming_the_row(tmp_path: Path) -> None:
    run_a, _ = _write_runs(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "q0", "recall": 0.5}\n{"id": "q1", "recall": "high"}\n')
    out = flightdeck("experiments", "offline", str(run_a), str(bad), "-m", "recall", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "run B, row 2: 'recall' is missing or not a number" in out.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "q0"\n')
    with pytest.raises(ExperimentError, match=r"broken\.jsonl:1: not valid JSON"):
        read_run(broken)
    with pytest.raises(ExperimentError, match="no numeric metric"):
        compare_runs([{"id": 1, "a": "x"}], [{"id": 1, "a": "y"}])


def test_the_documented_offline_commands_run(tmp_path: Path) -> None:
    """The commands of docs/experiments.md's offline section, verbatim, on generated runs."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "experiments.md").read_text()
    section = doc.split("## Offline experiments", 1)[1].split("\n## ", 1)[0]
    commands = [
        shlex.split(line)
        for block in re.findall(r"```(?:bash)?\n(.*?)```", section, flags=re.S)
        for line in block.splitlines()
        if line.startswith("flightdeck ")
    ]
    assert len(commands) >= 2
    run_a, run_b = _write_runs(tmp_path)
    b_jsonl = [
        dict(zip(("id", "recall", "latency_ms"), line.split(","), strict=True))
        for line in run_b.read_text().splitlines()[1:]
    ]
    for name in ("index-b.jsonl",):
        (tmp_path / name).write_text(
            "\n".join(
                json.dumps(
                    {**r, "recall": float(r["recall"]), "latency_ms": float(r["latency_ms"])}
                )
                for r in b_jsonl
            )
        )
    (tmp_path / "extract-v1.csv").write_text(run_b.read_text())
    (tmp_path / "extract-v2.csv").write_text(run_b.read_text().replace(",2", ",3"))
    assert run_a.name == "index-a.jsonl"
    for argv in commands:
        out = flightdeck(*argv[1:], cwd=tmp_path)
        assert out.returncode == 0, (argv, out.stderr)
        if "--json" in argv:
            assert json.loads(out.stdout)
        if "--plot" in argv:
            png = argv[argv.index("--plot") + 1]
            assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
