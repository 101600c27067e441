"""``xalign embed``: sentence embeddings of every layer for a parallel corpus, written to disk."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from xalign.cli.common import add_data_args, add_model_args, load_corpora_from_args, load_encoder_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="extract per-layer sentence embeddings of a parallel corpus",
                       description="Embed both sides of a parallel corpus with every layer of an encoder and write "
                                   "<out>/<pair>/<lang>.npy ([layers, n, hidden] float32), texts.json and "
                                   "manifest.json. The output folder appears complete or not at all; interrupted "
                                   "runs resume. Multi-process: torchrun --nproc-per-node N -m xalign.cli.main "
                                   "embed ... (each process embeds every N-th shard).")
    add_model_args(p)
    add_data_args(p)
    p.add_argument("--layers", default="all", help="'all' or comma-separated hidden_states indices (0 = embeddings)")
    p.add_argument("--pooling", default="mean", choices=["mean", "mean_all", "cls"],
                   help="sentence vector: mean over non-special tokens (default), mean over all tokens incl. "
                        "special ones (the XTREME protocol, E5's own pooling), or the first token")
    p.add_argument("--prefix", default=None, help="text prepended to every sentence (e.g. 'query: ' for E5)")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per forward pass (default: 32)")
    p.add_argument("--max-tokens", type=int, default=16384, help="padded-token budget per batch")
    p.add_argument("--shard-size", type=int, default=None,
                   help="sentences per shard, the unit of resuming and of work per process (default: n/8, "
                        "clipped to 256..4096)")
    p.add_argument("--out", default="runs/embed",
                   help="output folder, one <pair>/ run inside per pair (default: runs/embed); absent, empty or "
                        "holding only earlier embed runs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it shows only on a terminal)")
    p.set_defaults(func=run)


def _launcher_device(device: str | None) -> str | None:
    """Under a launcher on a CUDA machine each process takes its own GPU (``cuda:LOCAL_RANK``)."""
    local = os.environ.get("LOCAL_RANK")
    if local is None or int(os.environ.get("WORLD_SIZE", "1")) <= 1 or device not in (None, "auto", "cuda"):
        return device
    import torch

    return f"cuda:{int(local)}" if torch.cuda.is_available() else device


def run(args: argparse.Namespace) -> int:
    from xalign.pipelines.embed_run import EmbedRunConfig, check_embed_root, embed_corpus

    check_embed_root(args.out)  # the same output rules as every command, before any data or model loads
    config = EmbedRunConfig(layers=args.layers, pooling=args.pooling, prefix=args.prefix, batch_size=args.batch_size,
                           max_tokens=args.max_tokens, shard_size=args.shard_size,
                           progress=not args.no_progress and sys.stderr.isatty())
    corpora = load_corpora_from_args(args)  # bad data fails before the model is loaded
    args.device = _launcher_device(args.device)
    encoder = load_encoder_from_args(args)
    main_process = int(os.environ.get("RANK", "0")) == 0
    for corpus in corpora:
        out = Path(args.out) / corpus.pair
        manifest = embed_corpus(encoder, corpus, out, config)
        shapes = ", ".join(f"{lang} {tuple(a['shape'])}" for lang, a in manifest["arrays"].items())
        if main_process:
            print(f"{corpus.pair}: {len(corpus)} pairs → {out} ({shapes})")
    return 0
