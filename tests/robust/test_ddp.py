"""Two-process DDP (gloo on CPU) through ``torchrun``: adversarial training keeps the replicas identical."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent('''
    import json, os, sys
    import torch
    from transformers import TrainerCallback
    from xalign.pipelines.train import TrainConfig, train

    model_dir, data_dir, out = sys.argv[1:4]

    class Dump(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kw):
            flat = torch.cat([p.detach().flatten() for p in model.parameters()])
            with open(os.path.join(data_dir, f"rank{os.environ['RANK']}.json"), "w") as fh:
                json.dump({"sum": flat.double().sum().item(), "abs": flat.double().abs().sum().item(),
                           "world": int(os.environ["WORLD_SIZE"])}, fh)

    files = {lang: os.path.join(data_dir, "pairs.tsv") for lang in ("en", "xx")}
    cfg = TrainConfig(out=out, model=model_dir, task="pairs", train_file=files["en"], select_file=files["en"],
                      eval_files=files, max_length=64, batch_size=8, grad_accum=2, max_steps=3, method="adv",
                      adv_steps=2, device="cpu", learning_rate=1e-2, smooth_n=2)
    result = train(cfg, callbacks=[Dump()])
    print("RANK", os.environ["RANK"], json.dumps(result.metrics["eval"]["accuracy"]))
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_adv_training(tmp_path, _tiny_dirs):
    from .conftest import synthetic_pairs

    a, b, y = synthetic_pairs(16)
    (tmp_path / "pairs.tsv").write_text("sentence1\tsentence2\tlabel\n" + "".join(
        f"{x}\t{z}\t{lab}\n" for x, z, lab in zip(a, b, y)), encoding="utf-8")
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           str(script), str(_tiny_dirs["bert"]), str(tmp_path), str(tmp_path / "run")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world"] == 2
    assert ranks[0]["sum"] == pytest.approx(ranks[1]["sum"], rel=1e-9)  # gradients were all-reduced
    assert ranks[0]["abs"] == pytest.approx(ranks[1]["abs"], rel=1e-9)
    accs = sorted(line for line in proc.stdout.splitlines() if line.startswith("RANK"))
    assert len(accs) == 2 and accs[0].split(" ", 2)[2] == accs[1].split(" ", 2)[2]
    assert (tmp_path / "run" / "train_metrics.json").is_file()

