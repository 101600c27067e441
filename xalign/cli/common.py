"""Argument groups shared by several commands (``embed``, ``align``), the transformers quieting of the CLI,
and loaders from parsed flags. Flags of commands with a settings dataclass (probe, compare, train) are
generated from its fields by :mod:`xalign.cli.flags`.
"""

from __future__ import annotations

import argparse


def add_model_args(parser: argparse.ArgumentParser, *, flag: str = "--model") -> None:
    group = parser.add_argument_group("model")
    group.add_argument(flag, default="default",
                       help="'default' (bundled multilingual-e5-small, no download), a local HF directory or a hub id")
    group.add_argument("--device", default=None, help="cuda, cpu, mps or auto (default: CUDA when available)")
    group.add_argument("--dtype", default=None, help="weights dtype: float32 (default), bf16, fp16, auto")
    group.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")
    group.add_argument("--trust-remote-code", action="store_true", help="allow model code from the hub (off by default)")
    group.add_argument("--allow-pickle", action="store_true",
                       help="also load pickle weights (pytorch_model.bin) when a model has no safetensors; "
                            "unpickling can run code, so only for files you trust (default: safetensors only)")


def add_data_args(parser: argparse.ArgumentParser, *, pair_required: bool = False) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--pair", action="append", required=pair_required,
                       help="language pair such as en-sw (repeatable); codes sw/swh/swa/swh_Latn are equivalent")
    group.add_argument("--src-file", default=None, help="source side: a text file with one sentence per line")
    group.add_argument("--tgt-file", default=None, help="target side, line-aligned with --src-file")
    group.add_argument("--data", default=None,
                       help="a named corpus: 'demo' (bundled FLORES-200 subset, the default), "
                            "'flores:DIR', 'ntrex:DIR', or a two-column TSV file")
    group.add_argument("--split", default=None, help="split of a FLORES-style folder (train, dev, test; default: all)")
    group.add_argument("--limit", type=int, default=None, help="use only the first N sentence pairs")
    group.add_argument("--strict", action="store_true", help="fail on empty lines instead of dropping them pairwise")


def quiet_transformers(args: argparse.Namespace) -> None:
    """CLI only: hide transformers' per-load progress bars and info logs unless -vv was given."""
    if getattr(args, "verbose", 0) > 1:
        return
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_encoder_from_args(args: argparse.Namespace, spec: str | None = None):
    from xalign.encoders import load_encoder

    quiet_transformers(args)
    return load_encoder(spec or args.model, device=args.device, dtype=args.dtype, revision=args.revision,
                        trust_remote_code=args.trust_remote_code,
                        allow_pickle_weights=getattr(args, "allow_pickle", False))


def load_corpora_from_args(args: argparse.Namespace) -> list:
    """One ParallelCorpus per --pair (or one from --src-file/--tgt-file): :func:`xalign.data.parallel.load_corpora`."""
    from xalign.data.parallel import load_corpora

    return load_corpora(args.pair or [], src_file=args.src_file, tgt_file=args.tgt_file, data=args.data,
                        split=args.split, strict=args.strict, limit=args.limit)
