"""Two-process DDP (gloo on CPU): adv-only and FreeLB (K-1 backwards outside the gradient sync, the last
one synced) keep the replicas identical, with gradient accumulation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from .test_ddp import _free_port

SCRIPT = textwrap.dedent('''
    import json, os, sys
    import torch
    from transformers import TrainerCallback
    from xalign.pipelines.train import TrainConfig, train

    model_dir, data_dir, out, objective = sys.argv[1:5]

    class Dump(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kw):
            flat = torch.cat([p.detach().flatten() for p in model.parameters()])
            with open(os.path.join(data_dir, f"rank{os.environ['RANK']}.json"), "w") as fh:
                json.dump({"sum": flat.double().sum().item(), "abs": flat.double().abs().sum().item(),
                           "world": int(os.environ["WORLD_SIZE"])}, fh)

    files = {lang: os.path.join(data_dir, "pairs.tsv") for lang in ("en", "xx")}
    cfg = TrainConfig(out=out, model=model_dir, task="pairs", train_file=files["en"], select_file=files["en"],
                      eval_files=files, max_length=64, batch_size=8, grad_accum=2, max_steps=2, method="adv",
                      adv_objective=objective, adv_steps=2, device="cpu", learning_rate=1e-2,
                      freeze_embeddings=objective == "freelb")
    train(cfg, callbacks=[Dump()])
''')


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["adv-only", "freelb"])
def test_two_process_ddp_objectives(tmp_path, _tiny_dirs, objective):
    from .conftest import synthetic_pairs

    a, b, y = synthetic_pairs(16)
    (tmp_path / "pairs.tsv").write_text("sentence1\tsentence2\tlabel\n" + "".join(
        f"{x}\t{z}\t{lab}\n" for x, z, lab in zip(a, b, y)), encoding="utf-8")
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           str(script), str(_tiny_dirs["bert"]), str(tmp_path), str(tmp_path / "run"), objective]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world"] == 2
    assert ranks[0]["sum"] == pytest.approx(ranks[1]["sum"], rel=1e-9)  # gradients were all-reduced
    assert ranks[0]["abs"] == pytest.approx(ranks[1]["abs"], rel=1e-9)
    metrics = json.loads((tmp_path / "run" / "train_metrics.json").read_text())
    assert metrics["robust"]["adv_objective"] == objective and metrics["steps"] == 2
