"""``xalign report RUN_DIR``: rebuild the self-contained HTML report of a probe, compare or train run
from its files (no metric is recomputed)."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)
REPORTED = ("probe", "compare", "train")  # the run kinds a report is drawn for


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="rebuild the offline HTML report of a run directory",
                       description="Rebuild the self-contained HTML report of a probe, compare or train run "
                                   "directory from its saved results (no metric is recomputed).")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by probe, compare or train")
    p.add_argument("--out", default=None, metavar="FILE", help="output HTML file (default: RUN_DIR/report.html)")
    p.add_argument("--layer", type=int, default=None, metavar="N",
                   help="layer shown first by sliders and tables (default: the best P@1 layer of each pair)")
    p.add_argument("--max-points", type=int, default=1000, metavar="N",
                   help="sentences per language in embedding maps, a seeded subsample (default: 1000)")
    p.add_argument("--projection", choices=("auto", "umap", "pca"), default="auto",
                   help="embedding-map projection: auto = PCA (instant), umap = UMAP (slower; cached in "
                        "RUN_DIR/report_cache/) (default: auto)")
    p.add_argument("--seed", type=int, default=None, help="subsample/UMAP seed (default: the run's seed)")
    p.add_argument("--train", default=None, metavar="TRAIN_RUN",
                   help="a train run folder (e.g. --task sib200 --eval-langs all): its accuracy per language is "
                        "drawn against this probe's alignment")
    p.add_argument("--png", action="store_true",
                   help="also write each figure as PNG to <out>_png/ (needs kaleido>=1 and Chrome/Chromium)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xalign.errors import ConfigError
    from xalign.io import check_output, run_command
    from xalign.report import write_report

    kind = run_command(args.run_dir)
    if kind is not None and kind not in REPORTED:
        raise ConfigError(f"{args.run_dir} is an xalign {kind} run; xalign report draws probe, compare and train "
                          f"runs (its results are in its manifest.json and the files beside it)")
    # an xalign report or no file at all: never a folder, link, device, the user's file or a run's own files
    check_output(args.out if args.out is not None else Path(args.run_dir) / "report.html", kind="file",
                 files="report")
    path = write_report(args.run_dir, out=args.out, layer=args.layer, max_points=args.max_points,
                        projection=args.projection, seed=args.seed, png=args.png, train=args.train)
    print(path)
    return 0
