"""Issue 13 (reliability), the cases behind docs/reliability.md ("What xalign promises"): xalign never replaces what
it did not write, output appears atomically, a run folder has one writer, pickle weights load only on
request, bad settings are refused before the model loads, and a bug is not dressed up as a user error."""

from __future__ import annotations

import csv
import json
import os
import shutil

import pytest
import torch
from transformers import TrainerCallback

from tests.report.conftest import make_probe_run
from xalign.cli.main import main
from xalign.errors import ConfigError, OutputError
from xalign.io import atomic_path, check_output, claim_output_dir, output_lock, write_text
from xalign.pipelines.train import TrainConfig, train

from ..robust.conftest import synthetic_pairs

NAMES = ["same", "different", "shuffled"]


def _pairs_file(path, n, seed):
    a, b, y = synthetic_pairs(n, seed=seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        w.writerow(["sentence1", "sentence2", "label"])
        w.writerows(zip(a, b, (NAMES[i] for i in y)))
    return str(path)


@pytest.fixture
def files(tmp_path):
    return {"train_file": _pairs_file(tmp_path / "train.tsv", 16, 1),
            "select_file": _pairs_file(tmp_path / "select.tsv", 6, 2),
            "eval_files": {"en": _pairs_file(tmp_path / "en.tsv", 6, 3)}, "label_names": NAMES}


def _config(out, model, files, **kw):
    base = dict(out=str(out), model=str(model), task="pairs", **files, max_length=32, batch_size=4, max_steps=2,
                eval_steps=1, logging_steps=1, eval_batch_size=8, device="cpu", seed=3)
    return TrainConfig(**{**base, **kw})


def _argv(out, model, files, *extra):
    argv = ["-q", "train", "--model", str(model), "--task", "pairs", "--train-file", files["train_file"],
            "--select-file", files["select_file"], "--label-names", ",".join(NAMES), "--max-length", "32",
            "--batch-size", "4", "--max-steps", "2", "--eval-steps", "1", "--device", "cpu", "--out", str(out)]
    for lang, path in files["eval_files"].items():
        argv += ["--eval-file", f"{lang}={path}"]
    return argv + list(extra)


def _one_line(capsys_or_capfd) -> str:
    err = capsys_or_capfd.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _hidden_leftovers(parent, name):
    return [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.") and not p.name.endswith(".lock")]


@pytest.fixture
def finished_run(tmp_path, tiny_bert_dir, files):
    run = tmp_path / "run"
    train(_config(run, tiny_bert_dir, files))
    return run


# --------------------------------------------------------------------------- 1: --out replaces only xalign output
def test_atomic_path_refuses_a_users_folder(tmp_path):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    with pytest.raises(OutputError, match=r"thesis: it is a folder xalign did not write \(it holds thesis.txt\)"):
        with atomic_path(folder) as tmp:
            tmp.mkdir()
    assert (folder / "thesis.txt").read_text() == "years of work"
    assert _hidden_leftovers(tmp_path, "thesis") == []


def test_probe_out_on_a_users_folder_is_refused(tmp_path, tiny_bert_dir, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    code = main(["-q", "probe", "--model", str(tiny_bert_dir), "--pair", "en-sw", "--limit", "8", "--n-boot", "0",
                 "--n-boot-cka", "0", "--no-bli", "--no-report", "--out", str(folder)])
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after a warning about truncated sentences
    assert code == 2 and last.startswith(f"xalign probe: error: refusing to write {folder}: it is a folder xalign")
    assert [p.name for p in folder.iterdir()] == ["thesis.txt"]


def test_report_out_naming_the_run_folder_is_refused(tmp_path, capsys):
    run = make_probe_run(tmp_path / "run", n=12)
    before = _snapshot(run)
    assert main(["report", str(run), "--out", str(run), "--projection", "pca"]) == 2
    assert _one_line(capsys) == f"xalign report: error: refusing to write {run}: it is a folder; name a file"
    assert _snapshot(run) == before


def test_report_out_never_replaces_a_fifo_a_link_or_a_users_file(tmp_path, capsys):
    run = make_probe_run(tmp_path / "run", n=12)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    link = tmp_path / "link.html"
    link.symlink_to(notes)
    for target, reason in [(fifo, "it is a fifo"), (notes, "it is a file xalign did not write"),
                           (link, "it is a symbolic link")]:
        assert main(["report", str(run), "--out", str(target), "--projection", "pca"]) == 2
        assert _one_line(capsys).startswith(f"xalign report: error: refusing to write {target}: {reason}")
    assert fifo.is_fifo() and link.is_symlink() and notes.read_text() == "mine"
    with pytest.raises(OutputError, match="it is a fifo"):  # the library writers refuse it too
        write_text(fifo, "x")
    assert fifo.is_fifo()


def test_report_out_rewrites_its_own_html(tmp_path):
    run = make_probe_run(tmp_path / "run", n=12)
    out = tmp_path / "site" / "r.html"
    assert main(["-q", "report", str(run), "--out", str(out), "--projection", "pca"]) == 0
    first = out.stat().st_mtime_ns
    assert main(["-q", "report", str(run), "--out", str(out), "--projection", "pca"]) == 0
    assert out.stat().st_mtime_ns >= first and out.read_text().startswith("<!DOCTYPE html>")


def test_claim_refuses_another_commands_run_and_an_existing_run_without_overwrite(tmp_path):
    run = make_probe_run(tmp_path / "run", n=12)
    with pytest.raises(OutputError, match="it holds an xalign probe run, not an xalign train run"):
        with claim_output_dir(run, "train"):
            pass
    with pytest.raises(OutputError, match="already holds an xalign probe run; pass --overwrite"):
        with claim_output_dir(run, "probe"):
            pass
    with pytest.raises(OutputError, match="current folder"):
        check_output(".", kind="dir")


def test_claim_swaps_in_at_the_end_and_keeps_the_old_run_on_failure(tmp_path):
    run = make_probe_run(tmp_path / "run", n=12)
    before = _snapshot(run)
    with pytest.raises(RuntimeError, match="disk on fire"):
        with claim_output_dir(run, "probe", overwrite=True) as work:
            (work / "manifest.json").write_text('{"command": "probe"}')
            assert _snapshot(run) == before  # nothing replaced while the new run is written
            raise RuntimeError("disk on fire")
    assert _snapshot(run) == before and _hidden_leftovers(tmp_path, "run") == []
    with claim_output_dir(run, "probe", overwrite=True) as work:
        (work / "manifest.json").write_text('{"command": "probe", "new": 1}')
    assert _snapshot(run) == {"manifest.json": b'{"command": "probe", "new": 1}'}
    assert _hidden_leftovers(tmp_path, "run") == []


def test_claim_puts_back_a_run_that_a_killed_swap_moved_aside(tmp_path):
    run = make_probe_run(tmp_path / "run", n=12)
    before = _snapshot(run)
    stale = tmp_path / ".run.x1y2z3.tmp"  # what a swap killed between its two renames leaves
    stale.mkdir()
    os.replace(run, stale / ".old-run")
    with claim_output_dir(run, "probe", overwrite=True) as work:
        assert _snapshot(run) == before  # restored before anything else happens
        (work / "manifest.json").write_text('{"command": "probe"}')
    assert not stale.exists()


# --------------------------------------------------------------------------- 2, 14: train checks before it writes
@pytest.mark.parametrize("bad", [["--train-file", "/nonexistent/train.tsv"], ["--lr", "-1"], ["--lr", "nan"],
                                 ["--column", "bogus=x"], ["--epochs", "inf"]])
def test_train_overwrite_checks_everything_before_touching_the_finished_run(finished_run, tiny_bert_dir, files,
                                                                              capsys, bad):
    before = _snapshot(finished_run)
    assert main(_argv(finished_run, tiny_bert_dir, files, "--overwrite", *bad)) == 2
    assert _one_line(capsys).startswith("xalign train: error: ")
    assert _snapshot(finished_run) == before


class _Fail(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        raise RuntimeError("out of memory (simulated)")


def test_train_overwrite_keeps_the_old_run_until_the_new_one_has_finished(finished_run, tiny_bert_dir, files):
    before = _snapshot(finished_run)
    with pytest.raises(RuntimeError, match="simulated"):
        train(_config(finished_run, tiny_bert_dir, files, overwrite=True, seed=4), callbacks=[_Fail()])
    assert _snapshot(finished_run) == before and _hidden_leftovers(finished_run.parent, "run") == []
    train(_config(finished_run, tiny_bert_dir, files, overwrite=True, seed=4))
    assert json.loads((finished_run / "config.json").read_text())["seed"] == 4
    assert json.loads((finished_run / "train_metrics.json").read_text())["config"]["seed"] == 4


def test_a_failed_train_leaves_no_config_json(tmp_path, tiny_bert_dir, files):
    bad = tmp_path / "bad.tsv"
    shutil.copy(files["eval_files"]["en"], bad)
    with open(bad, "a", encoding="utf-8") as fh:
        fh.write("x\ty\tmaybe\n")
    out = tmp_path / "new"
    with pytest.raises(ValueError, match="label 'maybe'"):
        train(_config(out, tiny_bert_dir, dict(files, eval_files={"en": str(bad)})))
    assert not out.exists()
    out.mkdir()  # an empty folder the user made stays, empty
    with pytest.raises(ValueError, match="label 'maybe'"):
        train(_config(out, tiny_bert_dir, dict(files, eval_files={"en": str(bad)})))
    assert out.is_dir() and list(out.iterdir()) == []


def test_train_refuses_a_users_folder_before_loading_anything(tmp_path, files, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert main(_argv(folder, tmp_path / "no-model-here", files)) == 2  # the model is never looked at
    assert _one_line(capsys).startswith(f"xalign train: error: refusing to write {folder}: it is a folder xalign "
                                        f"did not write (it holds notes.txt)")
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("field,value", [("learning_rate", 0.0), ("learning_rate", -1e-5),
                                         ("learning_rate", float("nan")), ("learning_rate", float("inf")),
                                         ("epochs", float("inf")), ("epochs", float("nan")), ("epochs", 0.0)])
def test_lr_and_epochs_are_refused_at_construction(tmp_path, files, field, value):
    flag = {"learning_rate": "--lr", "epochs": "--epochs"}[field]
    with pytest.raises(ConfigError, match=f"{flag} must be a finite number > 0"):
        TrainConfig(out=str(tmp_path / "x"), task="pairs", **files, **{field: value})
    assert not (tmp_path / "x").exists()


def test_align_checks_out_before_the_model(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    gold = tmp_path / "gold.txt"
    gold.write_text("0-0\n")
    code = main(["align", "--model", str(tmp_path / "no-model-here"), "--src-file", str(gold), "--tgt-file",
                 str(gold), "--gold", str(gold), "--out", str(folder)])
    assert code == 2 and "it is a folder xalign did not write" in _one_line(capsys)


# --------------------------------------------------------------------------- 4: one writer per run folder
class _SecondRun(TrainerCallback):
    def __init__(self, argv):
        self.argv, self.code = argv, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.code = main(self.argv)


def test_a_second_train_into_the_same_out_is_refused(tmp_path, tiny_bert_dir, files, capsys, monkeypatch):
    import logging

    monkeypatch.setattr(logging.getLogger("xalign"), "handlers", [])  # not a handler of an earlier test's capture
    out = tmp_path / "run"
    second = _SecondRun(_argv(out, tiny_bert_dir, files, "--seed", "9"))
    result = train(_config(out, tiny_bert_dir, files), callbacks=[second])
    assert second.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is being written by another xalign process" in err[0]
    assert result.metrics.config["seed"] == 3
    assert json.loads((out / "config.json").read_text())["seed"] == 3  # not mixed with the second run's
    with output_lock(out):  # released after the run
        pass


# --------------------------------------------------------------------------- 5, 12: pickle weights
class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _pickle_only(model_dir, payload_marker=None):
    from safetensors.torch import load_file

    state = load_file(model_dir / "model.safetensors")
    (model_dir / "model.safetensors").unlink()
    obj = {"weights": _Payload(str(payload_marker))} if payload_marker else state
    torch.save(obj, model_dir / "pytorch_model.bin")
    return model_dir


def test_train_refuses_pickle_weights_without_allow_pickle(tmp_path, tiny_bert_dir, files, capsys):
    model = _pickle_only(tiny_bert_dir)
    assert main(_argv(tmp_path / "run", model, files)) == 2
    err = _one_line(capsys)
    assert "has only pickle weights (pytorch_model.bin)" in err and "--allow-pickle" in err
    assert not (tmp_path / "run").exists()
    assert main(_argv(tmp_path / "run", model, files, "--allow-pickle")) == 0  # trusted on request


def test_a_malicious_pickle_is_one_line_and_never_runs(tmp_path, tiny_bert_dir, files, capsys):
    marker = tmp_path / "pwned"
    model = _pickle_only(tiny_bert_dir, payload_marker=marker)
    assert main(_argv(tmp_path / "run", model, files, "--allow-pickle")) == 2
    err = _one_line(capsys)
    assert err.startswith("xalign train: error: ") and "torch's safe loader (weights_only) refused" in err
    assert "GLOBAL" in err and "Re-running" not in err  # torch's finding, not its advice to load unsafely
    assert not marker.exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["embed", "probe", "align"])
def test_every_model_command_loads_safetensors_only_unless_allow_pickle(tmp_path, tiny_bert_dir, capsys, command):
    from importlib import resources

    model = _pickle_only(tiny_bert_dir)
    demo = resources.files("xalign.data.demo")
    args = {"embed": ["--pair", "en-sw", "--limit", "4", "--layers", "0"],
            "probe": ["--pair", "en-sw", "--limit", "6", "--n-boot", "0", "--n-boot-cka", "0", "--no-bli",
                      "--no-report"],
            "align": ["--src-file", str(demo / "simalign_sample.eng.txt"), "--tgt-file",
                      str(demo / "simalign_sample.deu.txt"), "--gold", str(demo / "simalign_sample.eng-deu.gold.txt"),
                      "--layer", "1", "--n-boot", "0"]}[command]
    argv = ["-q", command, "--model", str(model), *args, "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert "--allow-pickle" in _one_line(capsys)
    assert main([*argv, "--allow-pickle"]) == 0


# --------------------------------------------------------------------------- 13: only user errors are one line
def test_a_bug_keeps_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    import xalign.cli.env as env

    def broken():
        raise KeyError("ks")

    monkeypatch.setattr(env, "collect", broken)
    assert main(["env"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "KeyError: 'ks'" in err
    assert err.strip().splitlines()[-1].startswith("xalign env: internal error (KeyError): this is a bug in xalign")


def test_unknown_column_key_is_a_config_error(tmp_path, files, capsys):
    assert main(_argv(tmp_path / "run", tmp_path / "no-model", files, "--column", "bogus=x")) == 2
    assert _one_line(capsys) == ("xalign train: error: columns: unknown key(s) 'bogus'; expected any of sentence1, "
                                 "sentence2, label, item_id (--column KEY=NAME)")


# --------------------------------------------------------------------------- 16: resume by content; quiet loads
class _Kill(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        raise KeyboardInterrupt("killed")


def test_resume_compares_the_contents_of_input_files_not_their_paths(tmp_path, tiny_bert_dir, files):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(_config(out, tiny_bert_dir, files), callbacks=[_Kill()])
    moved = tmp_path / "moved.tsv"
    shutil.move(files["train_file"], moved)
    edited = tmp_path / "train.tsv"
    edited.write_text(moved.read_text().replace("\tsame\n", "\tdifferent\n", 1))
    with pytest.raises(ConfigError, match="settings differ from its config.json: content of train_file"):
        train(_config(out, tiny_bert_dir, files, resume=True))
    result = train(_config(out, tiny_bert_dir, dict(files, train_file=str(moved)), resume=True))
    assert result.metrics.steps == 2


@pytest.fixture
def _restore_transformers_logging():
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_warning()  # earlier in-process CLI calls quieted it
    hf_logging.enable_progress_bar()
    yield
    hf_logging.set_verbosity_warning()
    hf_logging.enable_progress_bar()


def test_train_is_quiet_unless_asked(tmp_path, tiny_bert_dir, files, capfd, _restore_transformers_logging):
    assert main(["-v", *_argv(tmp_path / "a", tiny_bert_dir, files)[1:]]) == 0
    assert "Loading weights" in capfd.readouterr().err  # -v: transformers' progress bars and load report
    assert main(_argv(tmp_path / "b", tiny_bert_dir, files)) == 0
    err = capfd.readouterr().err
    assert "LOAD REPORT" not in err and "Loading weights" not in err and "Writing model shards" not in err


def test_train_device_cuda_without_cuda_is_refused_not_run_on_cpu(tmp_path, tiny_bert_dir, files, capsys):
    """Issue 23 B: ``--device cuda`` on a machine without CUDA trained on the CPU without a word."""
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    argv = [a if a != "cpu" else "cuda" for a in _argv(tmp_path / "run", tiny_bert_dir, files)]
    assert main(argv) == 2
    assert _one_line(capsys).startswith("xalign train: error: device 'cuda' was requested but CUDA is not available")
    assert not (tmp_path / "run").exists()


def test_messages_name_the_flags_not_the_config_keys(finished_run, tiny_bert_dir, files, capsys):
    """Issue 23 D: "pass overwrite" and "needs synonyms=FILE" named config keys; the CLI user types flags."""
    assert main(_argv(finished_run, tiny_bert_dir, files)) == 2
    assert _one_line(capsys).endswith("or pass --overwrite")
    assert main(_argv(finished_run.parent / "rsda", tiny_bert_dir, files, "--method", "rs-da")) == 2
    assert "needs --synonyms FILE" in _one_line(capsys)
