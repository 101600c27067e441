"""``xalign embed`` launched as 2 CPU processes (gloo): one store, equal in order to a single-process run;
a multi-process run killed half-way resumes under the other launcher.

docs/gpu.md's launcher lines are run as written (``torchrun … -m xalign.cli.main embed …`` and
``accelerate launch --multi_gpu --num_processes N -m xalign.cli.main embed …``), through
``python -m`` so the test uses this interpreter.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ..conftest import CORPUS

DYING = textwrap.dedent('''
    """The CLI, except that rank 1 dies (os._exit, like a kill) when it starts its second shard."""
    import os, sys
    from xalign.embed import store
    from xalign.embed.extract import embed as real
    calls = {"n": 0}

    def dying(*args, **kwargs):
        if os.environ["RANK"] == "1":
            calls["n"] += 1
            if calls["n"] == 2:
                os._exit(3)
        return real(*args, **kwargs)

    store.embed = dying
    from xalign.cli.main import main
    sys.exit(main(sys.argv[1:]))
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


@pytest.mark.slow
def test_two_process_embed_equals_single_process_and_resumes(tmp_path, _tiny_dirs):
    from xalign.cli.main import main

    n = 22  # 6 shards of 4 per language: both ranks write several, the last one is short
    (tmp_path / "src.txt").write_text("".join(f"{CORPUS[i % 14]} {i}\n" for i in range(n)), encoding="utf-8")
    (tmp_path / "tgt.txt").write_text("".join(f"{CORPUS[(i + 5) % 14]}\n" for i in range(n)), encoding="utf-8")
    args = ["embed", "--model", str(_tiny_dirs["bert"]), "--src-file", str(tmp_path / "src.txt"), "--tgt-file",
            str(tmp_path / "tgt.txt"), "--pair", "en-sw", "--layers", "0,1,2", "--shard-size", "4", "--no-progress"]

    # single process, in this interpreter: the reference
    assert main([*args, "--out", str(tmp_path / "single")]) == 0
    single = tmp_path / "single" / "en-sw"

    # 2 processes under torchrun; rank 1 is killed at its second shard → no output folder, shards kept
    (tmp_path / "dying.py").write_text(DYING)
    killed = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
         str(tmp_path / "dying.py"), *args, "--out", str(tmp_path / "multi")],
        capture_output=True, text=True, timeout=600, env=_env())
    assert killed.returncode != 0
    assert not (tmp_path / "multi" / "en-sw").exists()  # nothing looks complete
    shards = sorted(p.name for p in (tmp_path / "multi" / ".en-sw.partial" / "en.npy.shards").glob("*.npy"))
    assert "000001.npy" in shards  # rank 1's first shard survived the kill

    # resumed under accelerate launch, as docs/gpu.md writes it
    resumed = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
         "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
         "-m", "xalign.cli.main", *args, "--out", str(tmp_path / "multi")],
        capture_output=True, text=True, timeout=600, env=_env())
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming en.npy" in resumed.stderr
    assert resumed.stdout.count("en-sw: 22 pairs") == 1  # one line, from rank 0

    multi = tmp_path / "multi" / "en-sw"
    manifest = json.loads((multi / "manifest.json").read_text())
    reference = json.loads((single / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and reference["world_size"] == 1
    assert manifest["arrays"] == reference["arrays"] and manifest["fingerprint"] == reference["fingerprint"]
    assert (multi / "texts.json").read_bytes() == (single / "texts.json").read_bytes()
    for lang in ("en", "sw"):  # same rows in the same order (batches differ: float noise only)
        np.testing.assert_allclose(np.load(multi / f"{lang}.npy"), np.load(single / f"{lang}.npy"), rtol=0, atol=1e-5)
    assert sorted(p.name for p in (tmp_path / "multi").iterdir()) == [".en-sw.lock", "en-sw"]
