"""``xalign report RUN_DIR``: writes the report, turns user errors into one line and exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.report.conftest import make_probe_run
from xalign.cli.main import main


@pytest.fixture
def run_dir(tmp_path):
    return make_probe_run(tmp_path / "run", n=20)


def test_report_command_writes_the_html(run_dir, tmp_path, capsys):
    out = tmp_path / "site" / "r.html"
    code = main(["report", str(run_dir), "--out", str(out), "--projection", "pca", "--layer", "1",
                 "--max-points", "10", "--seed", "3"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out)
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "retrieval at layer 1" in html


def test_default_output_is_inside_the_run_dir(run_dir):
    assert main(["report", str(run_dir), "--projection", "pca"]) == 0
    assert (run_dir / "report.html").is_file()


@pytest.mark.parametrize("extra, message", [
    (["--layer", "99"], "layer 99 is not in"),
    (["--max-points", "0"], "max_points must be >= 1"),
])
def test_bad_options_give_one_line_and_exit_2(run_dir, capsys, extra, message):
    code = main(["report", str(run_dir), "--projection", "pca", *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("xalign report: error: ") and message in err and "\n" not in err


def test_missing_run_dir(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "expected a run directory" in capsys.readouterr().err


def test_png_without_kaleido_is_one_clear_line(run_dir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "kaleido", None)
    assert main(["report", str(run_dir), "--projection", "pca", "--png"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the INFO log lines
    assert last.startswith("xalign report: error: --png needs kaleido")
    assert (run_dir / "report.html").is_file()  # the HTML was still written


def test_cli_module_does_not_import_plotly():
    code = "import sys, xalign.cli.report; print('plotly' in sys.modules, 'umap' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("command", ["align", "embed"])
def test_a_run_of_a_command_without_a_report_is_named(tmp_path, capsys, command):
    """Issue 23 D: `report` on an align run said "expected a 'pairs' object, found NoneType"."""
    import json

    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"command": command}))
    (run / "metrics.json").write_text(json.dumps({"aer": 0.3}))
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"xalign report: error: {run} is an xalign {command} run; xalign report draws probe, "
                          f"compare and train runs") and "\n" not in err
    assert sorted(p.name for p in run.iterdir()) == ["manifest.json", "metrics.json"]
