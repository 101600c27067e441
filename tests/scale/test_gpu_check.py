"""``analysis/gpu_check.py`` with tiny sizes: every row runs its CPU part, skips its CUDA part with a line
saying so where there is no GPU, and the JSON and markdown table are written."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "analysis" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _numpy_cka(x, y):
    x, y = x - x.mean(0), y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def test_gpu_check_runs_on_cpu_with_tiny_sizes(tmp_path, tiny_bert_dir, monkeypatch):
    import torch

    gc = _module()
    monkeypatch.setattr(gc, "SHARED", tmp_path / "absent")  # the fallbacks, as on a user's machine
    out = tmp_path / "out"
    rc = gc.main(["--model", str(tiny_bert_dir), "--data", "demo", "--limit", "12", "--cpu-subset", "8",
                  "--retrieval-n", "1500", "--dim", "32", "--cka-n", "200", "--train-steps", "2", "--cpu-steps", "2",
                  "--train-batch", "4", "--max-length", "64", "--methods", "adv", "rs-da", "--no-tests", "--out-dir", str(out)])
    assert rc == 0
    result = json.loads((out / "gpu_check.json").read_text())
    rows = {r["check"]: r for r in result["rows"]}
    assert list(rows) == [name for name, _, _ in gc.ROWS]
    cuda = torch.cuda.is_available()
    for name in list(rows)[1:]:
        status = rows[name]["status"]
        assert status == "ok" if cuda else status.startswith("skipped: no CUDA device"), (name, status)

    ret = rows["faiss-gpu vs faiss-cpu"]["metrics"]
    assert ret["faiss_cpu_equals_numpy_argmax"] is True and ret["planted_top1"] > 0.9
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 32))
    y = x @ rng.standard_normal((32, 32)) * 0.1 + rng.standard_normal((200, 32))
    assert abs(rows["CKA CUDA vs CPU"]["metrics"]["cpu_linear"] - _numpy_cka(x, y)) < 1e-10
    ext = rows["extraction fp32/bf16"]["metrics"]
    assert ext["n_sentences"] == 24 and ext["cpu_fp32_sentences_per_s"] > 0
    train = rows["training bf16"]["metrics"]
    assert sorted(k for k in train if k.endswith("_cpu")) == ["adv_cpu", "rs-da_cpu"]
    for method in ("adv", "rs-da"):
        assert train[f"{method}_cpu"]["losses_finite"] and train[f"{method}_cpu"]["n_losses"] == 2

    table = (out / "gpu_check.md").read_text()
    assert table.count("\n| ") == 1 + len(rows)  # header + one line per check
    assert "\\|difference\\|" in table  # a pipe in a cell does not break the table
    assert cuda or "still to be measured on a GPU" in table
