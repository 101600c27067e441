"""docs/gpu.md's launcher line for ``train`` run as written: ``torchrun --nproc-per-node 2 -m xalign.cli.main
train …`` on 2 CPU processes (gloo) exits 0, prints one summary (rank 0's) and records 2 processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_train_cli_under_torchrun(tmp_path, _tiny_dirs):
    from ..robust.conftest import synthetic_pairs

    a, b, y = synthetic_pairs(16)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("sentence1\tsentence2\tlabel\n" + "".join(f"{x}\t{z}\t{lab}\n" for x, z, lab in zip(a, b, y)),
                     encoding="utf-8")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
           "-m", "xalign.cli.main", "train", "--model", str(_tiny_dirs["bert"]), "--task", "pairs",
           "--train-file", str(pairs), "--select-file", str(pairs), "--eval-file", f"en={pairs}",
           "--max-length", "64", "--batch-size", "8", "--max-steps", "2", "--device", "cpu", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("run: ") == 1 and "steps: 2" in proc.stdout  # one summary, from rank 0
    assert json.loads((out / "manifest.json").read_text())["world_size"] == 2
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["steps"] == 2 and len(metrics["eval"]["correct"]["en"]) == 16
