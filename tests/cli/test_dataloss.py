"""Issue 23 A: no data loss under hostile or careless use. Each case failed before the fix: a run's clean-up
touched other runs' staging folders, a replaced probe run took the user's files with it, ``report`` wrote over
a run's or the model cache's own files and over a user's report.html, and ``embed --out`` took links and the
user's folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.report.conftest import make_probe_run
from xalign.cli.main import main
from xalign.errors import OutputError
from xalign.io import claim_output_dir, output_lock, recover_output, stage_dir


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _parked(parent: Path, name: str, token: str = "k1ll3d") -> Path:
    """What a swap killed between its two renames leaves: the earlier run ``name`` parked in its staging folder."""
    old = parent / f".{name}.{token}.tmp" / f".old-{name}"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text(json.dumps({"command": "probe", "run": name}))
    return old


# --------------------------------------------------------------------------- A1: only this folder's leftovers
def test_a_claim_leaves_the_staging_folder_of_a_run_into_a_longer_name_alone(tmp_path):
    """``train --out runs/tx`` while ``train --overwrite --out runs/tx.2`` runs: tx.2's stage must survive."""
    other = tmp_path / "tx.2"
    with output_lock(other):  # tx.2 is being written into its staging folder
        stage = tmp_path / ".tx.2.a1b2c3.tmp"
        (stage / "tx.2").mkdir(parents=True)
        (stage / "tx.2" / "config.json").write_text(json.dumps({"command": "train"}))
        with claim_output_dir(tmp_path / "tx", "train", in_place=True) as work:
            (work / "config.json").write_text(json.dumps({"command": "train"}))
        assert (stage / "tx.2" / "config.json").is_file()


@pytest.mark.parametrize("name, other", [("exp", "exp.v2"), ("exp[1]", "exp1"), ("e*", "ex"), ("a.b", "a.b.c")])
def test_a_claim_never_touches_the_parked_run_of_another_name(tmp_path, name, other):
    old = _parked(tmp_path, other)
    before = _snapshot(old)
    with claim_output_dir(tmp_path / name, "probe") as work:
        (work / "manifest.json").write_text(json.dumps({"command": "probe"}))
    assert _snapshot(old) == before
    recover_output(tmp_path / other)  # its own recovery puts it back
    assert json.loads((tmp_path / other / "manifest.json").read_text())["run"] == other
    assert not (tmp_path / f".{other}.k1ll3d.tmp").exists()


def test_leftovers_of_the_folder_itself_are_still_cleaned(tmp_path):
    stale = stage_dir(tmp_path / "run")
    (stale / "run").mkdir()
    users = tmp_path / ".run.notes"  # not a staging folder of ours
    users.mkdir()
    with claim_output_dir(tmp_path / "run", "probe") as work:
        (work / "manifest.json").write_text(json.dumps({"command": "probe"}))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.notes", "run"]  # no lock file left either


# --------------------------------------------------------------------------- A2: the user's files in a replaced run
def test_probe_over_its_earlier_run_keeps_the_users_files(tmp_path, tiny_bert_dir):
    out = tmp_path / "exp"
    argv = ["-q", "probe", "--model", str(tiny_bert_dir), "--pair", "en-sw", "--limit", "8", "--n-boot", "0",
            "--n-boot-cka", "0", "--no-bli", "--no-report", "--out", str(out)]
    assert main(argv) == 0
    (out / "NOTES.md").write_text("what I saw")
    (out / "src.txt").write_text("my input\n")
    first = json.loads((out / "manifest.json").read_text())["created"]
    assert main([*argv, "--seed", "7"]) == 0
    assert (out / "NOTES.md").read_text() == "what I saw" and (out / "src.txt").read_text() == "my input\n"
    assert json.loads((out / "manifest.json").read_text())["seed"] == 7 or first
    assert (out / "metrics.json").is_file()


def test_a_swap_killed_after_the_new_run_is_in_place_still_keeps_the_users_files(tmp_path):
    target = tmp_path / "exp"
    target.mkdir()
    (target / "manifest.json").write_text(json.dumps({"command": "probe", "run": "new"}))
    old = _parked(tmp_path, "exp")
    (old / "NOTES.md").write_text("mine")
    (old / "metrics.json").write_text("{}")  # xalign's own file of the earlier run: it goes
    recover_output(target)
    assert (target / "NOTES.md").read_text() == "mine" and not (target / "metrics.json").exists()
    assert json.loads((target / "manifest.json").read_text())["run"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp"]


# --------------------------------------------------------------------------- A3: report --out inside runs and caches
def _train_run(folder: Path) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"command": "train", "lr": 2e-5}))
    return folder


def _model_cache(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "xalign_source.json").write_text(json.dumps({"sha256": "0" * 64}))
    return folder


def test_report_out_never_replaces_a_file_of_a_run_or_of_the_model_cache(tmp_path, capsys):
    run = make_probe_run(tmp_path / "run", n=12)
    (run / "NOTES.md").write_text("mine")
    train_run = _train_run(tmp_path / "trained")
    cache = _model_cache(tmp_path / "cache" / "models" / "me5-small-q4-abc")
    victims = [run / "NOTES.md", run / "manifest.json", run / "metrics.json", train_run / "config.json",
               cache / "config.json"]
    before = {p: p.read_bytes() for p in victims}
    for target in victims:
        assert main(["report", str(run), "--out", str(target), "--projection", "pca"]) == 2
        line = _one_line(capsys)
        assert line.startswith(f"xalign report: error: refusing to write {target}: it is a file"), line
    assert {p: p.read_bytes() for p in victims} == before


def test_report_default_out_never_replaces_a_users_report_html(tmp_path, capsys):
    folder = make_probe_run(tmp_path / "mine", n=12)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["command"]  # the user's own folder: no xalign run
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "report.html").write_text("<html>my own report</html>")
    assert main(["report", str(folder), "--projection", "pca"]) == 2
    assert _one_line(capsys).startswith(f"xalign report: error: refusing to write {folder / 'report.html'}: "
                                        f"it is a file xalign did not write")
    assert (folder / "report.html").read_text() == "<html>my own report</html>"


def test_report_default_out_rewrites_the_runs_own_report(tmp_path):
    run = make_probe_run(tmp_path / "run", n=12)
    assert main(["-q", "report", str(run), "--projection", "pca"]) == 0
    assert main(["-q", "report", str(run), "--projection", "pca"]) == 0
    assert (run / "report.html").read_text().startswith("<!DOCTYPE html>")


# --------------------------------------------------------------------------- A5: embed --out like every command
def _embed(out, model, *extra) -> list[str]:
    return ["-q", "embed", "--model", str(model), "--pair", "en-sw", "--limit", "4", "--out", str(out), *extra]


def test_embed_out_refuses_a_link_a_users_folder_and_home(tmp_path, tiny_bert_dir, capsys, monkeypatch):
    real = tmp_path / "elsewhere"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    users = tmp_path / "thesis"
    users.mkdir()
    (users / "thesis.txt").write_text("years of work")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("# mine")
    (home / "Documents").mkdir()
    monkeypatch.setenv("HOME", str(home))
    for out, reason in [(link, "it is a symbolic link"), (users, "it is a folder xalign did not write"),
                        (Path("~").expanduser(), "it is a folder xalign did not write")]:
        assert main(_embed(out, tiny_bert_dir)) == 2
        line = _one_line(capsys)
        assert line.startswith(f"xalign embed: error: refusing to write {out}: {reason}"), line
    assert list(real.iterdir()) == [] and sorted(p.name for p in users.iterdir()) == ["thesis.txt"]
    assert sorted(p.name for p in home.iterdir()) == [".bashrc", "Documents"]


def test_embed_out_accepts_its_own_earlier_output(tmp_path, tiny_bert_dir):
    out = tmp_path / "emb"
    assert main(_embed(out, tiny_bert_dir)) == 0
    assert main(_embed(out, tiny_bert_dir, "--layers", "0")) == 0  # the folder holds only embed runs
    assert json.loads((out / "en-sw" / "manifest.json").read_text())["layers"] == [0]
    assert sorted(os.listdir(out)) == ["en-sw"]


def test_embed_refuses_a_file_as_out(tmp_path, tiny_bert_dir, capsys):
    out = tmp_path / "file.txt"
    out.write_text("mine")
    assert main(_embed(out, tiny_bert_dir)) == 2
    assert _one_line(capsys) == f"xalign embed: error: refusing to write {out}: it is a file; name a folder"
    assert out.read_text() == "mine"


def test_check_embed_root_is_in_the_library_too(tmp_path):
    from xalign.pipelines.embed_run import check_embed_root

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "a.txt").write_text("x")
    with pytest.raises(OutputError, match="folder xalign did not write"):
        check_embed_root(tmp_path / "mine")


# --------------------------------------------------------------------------- D: a held folder is found out first
def test_a_probe_into_a_folder_another_run_holds_fails_before_any_work(tmp_path, capsys, monkeypatch):
    import xalign.pipelines.probe as probe_mod

    monkeypatch.setattr(probe_mod, "load_encoder", lambda *a, **k: pytest.fail("the model was loaded"),
                        raising=False)
    out = tmp_path / "exp"
    with output_lock(out):
        code = main(["-q", "probe", "--model", "/nonexistent/model", "--pair", "en-sw", "--limit", "4",
                     "--out", str(out)])
    line = _one_line(capsys)
    assert code == 2 and "is being written by another xalign process" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the lock file went with its holder


def test_check_not_busy_creates_nothing_and_sees_a_holder(tmp_path):
    from xalign.io import check_not_busy

    check_not_busy(tmp_path / "a" / "run")
    assert not (tmp_path / "a").exists()
    with output_lock(tmp_path / "run"):
        with pytest.raises(OutputError, match="being written by another xalign process"):
            check_not_busy(tmp_path / "run")
    check_not_busy(tmp_path / "run")


def test_every_name_a_command_writes_into_a_run_is_known_as_xalign_output():
    """What is not in RUN_OUTPUTS is treated as the user's and carried into a replacing run: train's own list
    (which --overwrite under torchrun removes by name) must be in it."""
    from xalign.io import RUN_OUTPUTS
    from xalign.pipelines.train.config import _OUTPUTS

    assert set(_OUTPUTS) <= RUN_OUTPUTS
    assert {"manifest.json", "metrics.json", "metrics.csv", "details.json", "embeddings", "report.html",
            "compare.json", "models", "alignments.txt", "texts.json"} <= RUN_OUTPUTS


def test_the_report_writer_itself_replaces_only_reports(tmp_path):
    """The library path (``write_report(run, out=...)``) keeps the same rule as ``xalign report --out``."""
    from xalign.report import write_report

    run = make_probe_run(tmp_path / "run", n=12)
    before = (run / "manifest.json").read_bytes()
    with pytest.raises(OutputError, match="not a report"):
        write_report(run, out=run / "manifest.json", projection="pca")
    assert (run / "manifest.json").read_bytes() == before
    write_report(run, projection="pca")
    write_report(run, projection="pca")  # its own report is replaced


def test_atomic_path_of_a_plain_folder_does_not_carry_old_files(tmp_path):
    """Only a command's run folder keeps the user's files; a folder written whole (a saved encoder, the model
    cache) is exactly what was written."""
    from xalign.io import atomic_path

    enc = tmp_path / "run" / "encoder"
    enc.mkdir(parents=True)
    (tmp_path / "run" / "config.json").write_text(json.dumps({"command": "train"}))
    (enc / "vocab.txt").write_text("old tokenizer")
    with atomic_path(enc) as tmp:
        tmp.mkdir()
        (tmp / "tokenizer.json").write_text("{}")
    assert sorted(p.name for p in enc.iterdir()) == ["tokenizer.json"]


# --------------------------------------------------------------------------- E: log lines name final paths
def test_final_path_names_where_a_staged_file_ends_up(tmp_path):
    from xalign.io import final_path

    stage = stage_dir(tmp_path / "exp.v2")
    assert final_path(stage / "exp.v2" / "report.html") == tmp_path / "exp.v2" / "report.html"
    assert final_path(tmp_path / ".en-sw.partial" / "en.npy") == tmp_path / "en-sw" / "en.npy"
    assert final_path(tmp_path / ".notes" / "a.txt") == tmp_path / ".notes" / "a.txt"  # not a staging folder


def test_the_probe_log_names_the_report_where_it_ends_up(tmp_path, tiny_bert_dir, capsys):
    out = tmp_path / "exp"
    assert main(["probe", "--model", str(tiny_bert_dir), "--pair", "en-sw", "--limit", "8", "--n-boot", "0",
                 "--n-boot-cka", "0", "--no-bli", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"wrote {out / 'report.html'}" in err and ".tmp" not in err, err
