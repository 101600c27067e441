"""The train pipeline and ``xalign train``: outputs, resume equivalence, validation and error lines."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from transformers import TrainerCallback

from xalign.cli.main import main
from xalign.pipelines.train import TrainConfig, train
from xalign.training.evaluate import correct_from_string

from ..robust.conftest import _one_thread, synthetic_pairs  # noqa: F401 - autouse fixture: one torch thread


def _write_pairs(path, a, b, y, ids):
    names = ["same", "different", "shuffled"]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        w.writerow(["id", "sentence1", "sentence2", "label"])
        for row in zip(ids, a, b, (names[i] for i in y)):
            w.writerow(row)
    return str(path)


@pytest.fixture
def pair_files(tmp_path):
    a, b, y = synthetic_pairs(20, seed=1)
    train_f = _write_pairs(tmp_path / "train.tsv", a, b, y, [f"t{i}" for i in range(20)])
    a, b, y = synthetic_pairs(9, seed=2)
    ids = [f"d{i}" for i in range(9)]
    select_f = _write_pairs(tmp_path / "select.tsv", a, b, y, ids)
    en_f = _write_pairs(tmp_path / "en.tsv", a, b, y, ids)
    xx_f = _write_pairs(tmp_path / "xx.tsv", [s.lower() for s in a], [s.upper() for s in b], y, ids)
    return {"train_file": train_f, "select_file": select_f, "eval_files": {"en": en_f, "xx": xx_f},
            "columns": {"item_id": "id"}, "label_names": ["same", "different", "shuffled"]}


def _config(tmp_path, model_dir, files, **kw):
    base = dict(out=str(tmp_path / "run"), model=str(model_dir), task="pairs", **files, max_length=64,
                batch_size=4, grad_accum=2, max_steps=8, eval_steps=3, logging_steps=1, learning_rate=5e-3,
                eval_batch_size=8, device="cpu", seed=11)
    base.update(kw)
    return TrainConfig(**base)


def test_run_outputs_and_encoder(tmp_path, tiny_bert_dir, pair_files):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from xalign.encoders import load_encoder

    cfg = _config(tmp_path, tiny_bert_dir, pair_files, method="adv", generalized=True, smooth_n=3, rs_sigma=0.05)
    result = train(cfg)
    run = result.run_dir
    for name in ("config.json", "log.csv", "manifest.json", "train_metrics.json", "encoder", "model"):
        assert (run / name).exists(), name
    assert not (run / "checkpoints").exists()  # removed after success unless keep_checkpoints
    m = json.loads((run / "train_metrics.json").read_text())
    saved = json.loads((run / "config.json").read_text())
    assert m["method"] == "adv" and saved["command"] == "train" and m["config"] == {k: saved[k] for k in m["config"]}
    assert [h["step"] for h in m["history"]] == list(range(1, 9))
    assert all({"loss", "lr", "epoch", "adv_loss", "clean_loss"} <= set(h) for h in m["history"])
    assert m["select"]["best_step"] in (3, 6, 8) and [c["step"] for c in m["select"]["curve"]] == [3, 6, 8]
    assert m["select"]["accuracy"] == max(c["value"] for c in m["select"]["curve"])
    assert set(m["eval"]["smoothed_accuracy"]) == {"en", "xx"}
    gen = m["eval"]["generalized"]
    assert gen["languages"] == ["en", "xx"] and np.shape(gen["matrix"]) == (2, 2)
    assert [gen["matrix"][i][i] for i in range(2)] == [m["eval"]["accuracy"]["en"], m["eval"]["accuracy"]["xx"]]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["model"]["revision"].startswith("sha256:")
    assert manifest["data"]["train"]["n"] == 20
    with open(run / "log.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["loss"]]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], [h["loss"] for h in m["history"]])

    # accuracy recomputed independently from the saved classifier
    tok = AutoTokenizer.from_pretrained(run / "model")
    clf = AutoModelForSequenceClassification.from_pretrained(run / "model").eval()
    with open(pair_files["eval_files"]["xx"], encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    names = pair_files["label_names"]
    with torch.no_grad():
        pred = [clf(**tok(r["sentence1"], r["sentence2"], return_tensors="pt")).logits.argmax(-1).item() for r in rows]
    expected = np.mean([p == names.index(r["label"]) for p, r in zip(pred, rows)])
    assert m["eval"]["accuracy"]["xx"] == pytest.approx(expected)
    # per-item correctness, in file order, for paired tests between runs
    assert m["eval"]["correct"]["xx"] == "".join(str(int(p == names.index(r["label"]))) for p, r in zip(pred, rows))
    assert gen["correct"][1][1] == m["eval"]["correct"]["xx"]
    assert [np.mean(correct_from_string(c)) for row in gen["correct"] for c in row] == pytest.approx(
        [v for row in gen["matrix"] for v in row])

    # typed results: train_metrics.json read back is the result the run returned, and writes the same JSON
    from xalign.pipelines.train.result import read_train_metrics

    assert read_train_metrics(run) == result.metrics and result.metrics.to_json() == m
    assert result.accuracy == m["eval"]["accuracy"] and result.metrics.select.best_step == m["select"]["best_step"]
    # the encoder directory opens with load_encoder and holds the classifier's encoder weights
    enc = load_encoder(str(run / "encoder"), device="cpu")
    for name, p in enc.model.state_dict().items():
        torch.testing.assert_close(p, clf.base_model.state_dict()[name])

    with pytest.raises(ValueError, match=r"already holds a finished run \(train_metrics.json\); choose another "
                                         r"--out or pass --overwrite"):
        train(cfg)


class _Kill(TrainerCallback):
    """Simulates a kill right after the checkpoint of step ``at`` was written."""

    def __init__(self, at):
        self.at = at

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.at:
            raise KeyboardInterrupt(f"killed after step {self.at}")


@pytest.mark.parametrize("method,extra", [("adv", {"adv_random_start": True, "adv_steps": 2}),
                                          ("rs-da", {"rsda_sources": ["dictionary"]}),
                                          ("rs-rp", {"rs_sigma": 0.05})])
def test_resume_after_kill_reproduces_uninterrupted_run(tmp_path, tiny_bert_dir, pair_files, method, extra):
    dic = tmp_path / "dict.tsv"
    dic.write_text("Paka\tThe\nmbwa\tdog\nndege\tBirds\nmto\triver\n", encoding="utf-8")
    extra = dict(extra, dictionaries=[str(dic)]) if method == "rs-da" else extra
    # 20 items, batch 4: 5 steps per epoch; 8 steps cross an epoch; the kill (step 6) is mid-epoch
    full = train(_config(tmp_path / "a", tiny_bert_dir, pair_files, method=method, **extra))
    killed = _config(tmp_path / "b", tiny_bert_dir, pair_files, method=method, **extra)
    with pytest.raises(KeyboardInterrupt):
        train(killed, callbacks=[_Kill(6)])
    run_b = tmp_path / "b" / "run"
    assert not (run_b / "train_metrics.json").exists() and (run_b / "config.json").exists()
    with pytest.raises(ValueError, match="pass --resume to continue it"):
        train(killed)
    resumed = train(_config(tmp_path / "b", tiny_bert_dir, pair_files, method=method, resume=True, **extra))
    a, b = full.metrics.to_json(), resumed.metrics.to_json()
    np.testing.assert_allclose([h["loss"] for h in b["history"]], [h["loss"] for h in a["history"]], atol=1e-6)
    np.testing.assert_allclose([c["value"] for c in b["select"]["curve"]], [c["value"] for c in a["select"]["curve"]])
    assert b["eval"] == a["eval"] and b["select"]["best_step"] == a["select"]["best_step"]
    from safetensors.torch import load_file

    wa, wb = load_file(full.run_dir / "model" / "model.safetensors"), load_file(run_b / "model" / "model.safetensors")
    for name in wa:
        torch.testing.assert_close(wb[name], wa[name], atol=1e-6, rtol=0)


def test_resume_refuses_changed_settings_and_missing_checkpoints(tmp_path, tiny_bert_dir, pair_files):
    with pytest.raises(ValueError, match="nothing to resume"):
        train(_config(tmp_path, tiny_bert_dir, pair_files, resume=True))
    with pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path, tiny_bert_dir, pair_files), callbacks=[_Kill(3)])
    with pytest.raises(ValueError, match="settings differ from its config.json: learning_rate"):
        train(_config(tmp_path, tiny_bert_dir, pair_files, resume=True, learning_rate=1e-4))


def test_bad_data_and_settings_fail_in_one_line(tmp_path, tiny_bert_dir, pair_files):
    bad = tmp_path / "bad.tsv"
    shutil.copy(pair_files["eval_files"]["xx"], bad)
    with open(bad, "a", encoding="utf-8") as fh:
        fh.write("d99\tx\ty\tmaybe\n")
    files = dict(pair_files, eval_files={"en": pair_files["eval_files"]["en"], "xx": str(bad)})
    with pytest.raises(ValueError, match=r"bad.tsv:11: label 'maybe' is not one of"):
        train(_config(tmp_path, tiny_bert_dir, files))
    with pytest.raises(ValueError, match="--max-length 100 exceeds the model maximum of 64"):
        train(_config(tmp_path, tiny_bert_dir, pair_files, max_length=100))
    assert not (tmp_path / "run" / "train_metrics.json").exists()
    empty = tmp_path / "empty.tsv"
    empty.write_text("id\tsentence1\tsentence2\tlabel\n")
    with pytest.raises(ValueError, match="empty.tsv: no data rows"):
        train(_config(tmp_path, tiny_bert_dir, dict(pair_files, train_file=str(empty)), overwrite=True))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"method": "fgsm"}, ValueError, "unknown --method 'fgsm'"),
    ({"task": "mnli"}, ValueError, "unknown task 'mnli': expected one of \\['pawsx', 'sib200', 'xnli'\\]"),
    ({"eval_langs": "en,xx"}, ValueError, "xnli has no language 'xx'"),
    ({"train_lang": "ko"}, ValueError, "xnli has no language 'ko'"),
    ({"batch_size": "32"}, TypeError, r"--batch-size \(key batch_size\) expects int, got str"),
    ({"generalized": "yes"}, TypeError, r"--generalized \(key generalized\) expects bool"),
    ({"batch_size": 30, "grad_accum": 4}, ValueError, "divisible by --grad-accum"),
    ({"method": "rs-da"}, ValueError, "needs --synonyms FILE"),
    ({"adv_norm": "l1"}, ValueError, "unknown --adv-norm 'l1'"),
    ({"method": "rs-rp", "rs_sigma": 0.0}, ValueError, "positive sigma"),
    ({"device": "tpu"}, ValueError, "unknown --device 'tpu'"),
    ({"protocol": "fewshot"}, ValueError, "unknown --protocol 'fewshot'"),
    ({"task": "pairs"}, ValueError, "--task pairs needs --train-file"),
    ({"label_names": "yes,no,yes"}, ValueError, r"'yes' is given twice in \['yes', 'no', 'yes'\]"),
])
def test_config_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**kwargs)


def test_config_file_and_unknown_keys(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("method: adv\nadv-steps: 3\nlearning_rate: 3e-5\neval_langs: [en, sw]\n")
    cfg = TrainConfig.from_file(f, adv_steps=5)
    assert (cfg.method, cfg.adv_steps, cfg.learning_rate, cfg.eval_langs) == ("adv", 5, 3e-5, ["en", "sw"])
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    f.write_text("methd: adv\n")
    with pytest.raises(ValueError, match=r"c.yaml: unknown key\(s\) methd; valid keys: out, model"):
        TrainConfig.from_file(f)
    f.write_text("method: [adv\n")
    with pytest.raises(ValueError, match=r"c.yaml:\d+: invalid YAML"):
        TrainConfig.from_file(f)
    j = tmp_path / "c.json"
    j.write_text('{"epochs": 2}')
    assert TrainConfig.from_file(j).epochs == 2.0


@pytest.mark.parametrize("argv,match", [
    (["train", "--method", "foo"], "xalign train: error: unknown --method 'foo'"),
    (["train", "--eval-langs", "en,zz"], "xalign train: error: xnli has no language 'zz'"),
    (["train", "--config", "/nonexistent/c.yaml"], "xalign train: error: expected a YAML or JSON config file"),
])
def test_cli_error_lines(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(match) and "\n" not in err


def test_cli_config_file_with_flag_override(tmp_path, tiny_bert_dir, pair_files, capsys):
    f = tmp_path / "run.yaml"
    cfg = dict(pair_files, model=str(tiny_bert_dir), task="pairs", max_length=64, batch_size=4, max_steps=2,
               device="cpu", out=str(tmp_path / "cli"), learning_rate=1e-3)
    f.write_text(json.dumps(cfg))  # JSON is YAML
    assert main(["-q", "train", "--config", str(f), "--lr", "2e-3", "--method", "rs-rp", "--generalized"]) == 0
    out = capsys.readouterr().out
    saved = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert saved["learning_rate"] == 2e-3 and saved["method"] == "rs-rp" and saved["max_steps"] == 2
    m = json.loads((tmp_path / "cli" / "train_metrics.json").read_text())
    # the printed summary carries the numbers of train_metrics.json
    for lang in ("en", "xx"):
        assert f"{lang}: accuracy {m['eval']['accuracy'][lang]:.4f} (n = 9)" in out
    assert f"best step: {m['select']['best_step']} (dev accuracy {m['select']['accuracy']:.4f})" in out
    assert "generalized on 9 eval items" in out
    # 2 steps with the default --logging-steps 10: the last step is logged, so the history is not empty
    assert [h["step"] for h in m["history"]] == [2] and m["history"][0]["loss"] > 0
    # the weights are on disk once: encoder/ links model/'s weight file (and opens with load_encoder)
    run = tmp_path / "cli"
    assert (run / "encoder" / "model.safetensors").stat().st_ino == (run / "model" / "model.safetensors").stat().st_ino
    assert not list(run.glob("**/pytorch_model.bin"))


@pytest.mark.parametrize("flags,flag", [
    (["--weight-decay", "nan"], "--weight-decay"), (["--weight-decay", "-0.1"], "--weight-decay"),
    (["--rs-sigma", "inf"], "--rs-sigma"), (["--adam-epsilon", "nan"], "--adam-epsilon"),
    (["--lr", "inf"], "--lr"), (["--seed", "-1"], "--seed"), (["--num-workers", "100000"], "--num-workers"),
    (["--embed-min-cos", "2"], "--embed-min-cos")])
def test_cli_refuses_non_finite_and_out_of_range_settings(tmp_path, flags, flag, capsys):
    assert main(["train", "--out", str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"xalign train: error: {flag} must be ") and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_cli_device_cuda_without_cuda_is_one_line(tmp_path, tiny_bert_dir, pair_files, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    argv = ["train", "--out", str(tmp_path / "run"), "--model", str(tiny_bert_dir), "--task", "pairs", "--device",
            "cuda", "--train-file", pair_files["train_file"], "--select-file", pair_files["select_file"],
            "--eval-file", f"en={pair_files['eval_files']['en']}", "--column", "item_id=id"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xalign train: error: device 'cuda' was requested but CUDA is not available here") and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_cli_report_to_a_missing_integration_is_one_line(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    assert main(["train", "--out", str(tmp_path / "run"), "--report-to", "wandb"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xalign train: error: --report-to wandb: wandb is not installed") and "\n" not in err


def test_train_flags_are_generated_from_the_config_with_defaults_written_once():
    import dataclasses

    from xalign.cli.main import build_parser
    from xalign.cli.train import config_from_args

    parser = build_parser()
    # no flag given: the parser adds no value of its own, the dataclass defaults decide
    args = parser.parse_args(["train"])
    assert {k for k in vars(args) if k in {f.name for f in dataclasses.fields(TrainConfig)}} == set()
    assert config_from_args(args) == TrainConfig()
    help_text = " ".join(parser._subparsers._group_actions[0].choices["train"].format_help().split())
    for f in dataclasses.fields(TrainConfig):
        if f.metadata.get("cli", True):
            assert TrainConfig().flag(f.name) in help_text, f.name
    assert "--lr LEARNING_RATE learning rate (default: 2e-05)" in help_text
    args = parser.parse_args(["train", "--lr", "3e-5", "--eval-langs", "en,sw", "--eval-file", "sw=a.tsv",
                              "--no-generalized", "--column", "label=y"])
    assert (args.learning_rate, args.eval_langs, args.eval_files, args.generalized) == (
        3e-5, ["en", "sw"], [("sw", "a.tsv")], False)


def test_progress_shows_on_a_terminal_by_default(monkeypatch, tmp_path):
    import io
    import sys

    from xalign.pipelines.train.config import training_arguments

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def disable_tqdm(**kw):
        return training_arguments(TrainConfig(device="cpu", **kw), tmp_path, eval_steps=None, cuda=False,
                                  bf16=False).disable_tqdm

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert disable_tqdm() is False and disable_tqdm(progress=False) is True
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert disable_tqdm() is True and disable_tqdm(progress=True) is False
    from xalign.cli.main import build_parser
    from xalign.cli.train import config_from_args

    assert config_from_args(build_parser().parse_args(["train"])).progress is None  # decided by the terminal
    assert config_from_args(build_parser().parse_args(["-q", "train"])).progress is False
    assert config_from_args(build_parser().parse_args(["-q", "train", "--progress"])).progress is True


def test_xnli_noleak_generalized_run(tmp_path, tiny_bert_dir, shared_data):
    cfg = TrainConfig(out=str(tmp_path / "x"), model=str(tiny_bert_dir), task="xnli",
                      data_dir=str(shared_data / "xnli_via_myxnli"), protocol="noleak", n_train=16, n_select=8,
                      n_eval=12, eval_langs=["en", "sw", "ur"], generalized=True, method="rs-da",
                      synonyms=str(shared_data / "synonyms" / "counterfitted_neighbors.json"), max_length=64,
                      batch_size=8, max_steps=2, device="cpu")
    m = train(cfg).metrics.to_json()
    assert m["data"]["train_split"] == "test" and m["data"]["n_eval"] == 12
    assert m["eval"]["generalized"]["languages"] == ["en", "sw", "ur"]
    with pytest.raises(FileNotFoundError, match="use protocol noleak"):
        train(TrainConfig(out=str(tmp_path / "y"), model=str(tiny_bert_dir), task="xnli",
                          data_dir=str(shared_data / "xnli_via_myxnli"), max_length=64))
