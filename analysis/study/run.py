"""One command for the study: run the missing units (resumable, in chunks), then rebuild RESULTS.md.

    python -m analysis.study                       # CPU scale: every missing unit, then RESULTS.md
    python -m analysis.study --max-hours 1.8       # a chunk: start no unit after 1.8 h; rerun to continue
    python -m analysis.study --rewrite-results     # RESULTS.md + study_report.html from analysis/results/ only
    python -m analysis.study --plan                # the units, what is missing, the planned hours
    python -m analysis.study --units pawsx/baseline/seed7   # just these units (names as --plan lists them)
    python -m analysis.study --scale full --device cuda   # the GPU configuration (analysis/results/full/)
    python -m analysis.study --tune                # the tuning search on English dev (analysis/results/tuning/)
    python -m analysis.study --tune-v3             # v3: equal tuning for every method (analysis/results/tuning/v3/)
    python -m analysis.study --labels              # gold labels of the evaluation items (<task>/labels.json)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

if __package__ in (None, ""):  # python analysis/study/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.study.design import ROOT, SHARED_DATA, estimate_hours, make_design  # noqa: E402
from analysis.study.units import (RESULTS_DIR, default_work_dir, missing_units, parse_units, run_all,  # noqa: E402
                                  unit_name)

logger = logging.getLogger("study")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", choices=("cpu", "full"), default="cpu")
    p.add_argument("--tasks", nargs="+", choices=("xnli", "pawsx"), default=None)
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="override the design's seeds")
    p.add_argument("--units", nargs="+", default=None, metavar="TASK/METHOD/SEED",
                   help="run only these units of the design (e.g. pawsx/baseline/seed7; names as --plan lists them)")
    p.add_argument("--model", default="default")
    p.add_argument("--device", default="auto")
    p.add_argument("--max-hours", type=float, default=None, help="start no new unit after this many hours")
    p.add_argument("--data", default=str(SHARED_DATA), help="the shared data folder (MANIFEST.md)")
    p.add_argument("--work", default=None, help="scratch folder for runs (default $XALIGN_STUDY_WORK or "
                                                 "~/.cache/xalign-study)")
    p.add_argument("--results-dir", default=None, help="unit JSONs (default analysis/results for --scale cpu, "
                                                         "analysis/results/full for --scale full)")
    p.add_argument("--results", default=None, help="default analysis/RESULTS.md (cpu), analysis/RESULTS_full.md")
    p.add_argument("--html", default=None, help="default analysis/study_report.html (cpu), "
                                                "analysis/study_report_full.html")
    p.add_argument("--rewrite-results", action="store_true", help="only rebuild RESULTS.md and the HTML report")
    p.add_argument("--jobs", type=int, default=1,
                   help="run units in this many worker processes sharing the CPU threads (2 one-thread workers "
                        "train about 16%% faster than one two-thread process on 2 cores); a unit is never run twice")
    p.add_argument("--no-rewrite", action="store_true", help=argparse.SUPPRESS)  # workers of --jobs
    p.add_argument("--tune", action="store_true", help="run the tuning search's missing runs (English dev only; "
                                                       "analysis/study/tuning.py), then rebuild RESULTS.md")
    p.add_argument("--labels", action="store_true", help="derive <task>/labels.json (gold labels of the evaluation "
                                                         "items, checked against every unit) from --data, then rebuild")
    p.add_argument("--tune-v3", action="store_true", help="run the v3 equal-tuning search's missing trials "
                                                          "(analysis/study/tuning_v3.py), then rebuild RESULTS.md")
    p.add_argument("--plan", action="store_true", help="list units, missing ones and planned hours; run nothing")
    p.add_argument("--sec-per-step", type=float, default=4.5, help="for --plan")
    return p.parse_args(argv)


def remaining_hours(design, results_dir: Path, missing: list[tuple]) -> float | None:
    """Hours the missing units need, from the mean measured ``unit_s`` of finished trained units of the same
    task per unit of step cost (an adv step costs two passes); None before any trained unit has finished."""
    from analysis.study.aggregate import load_results
    from analysis.study.design import method_cost

    per_cost: dict[str, list[float]] = {}
    for (task, method, seed), rec in load_results(results_dir).items():
        if seed is not None and rec.get("timings", {}).get("unit_s"):
            per_cost.setdefault(task, []).append(rec["timings"]["unit_s"] / method_cost(design, method))
    if not per_cost:
        return None
    overall = [v for vals in per_cost.values() for v in vals]
    total = sum(method_cost(design, m) * (sum(per_cost.get(t, overall)) / len(per_cost.get(t, overall)))
                for t, m, s in missing if s is not None)
    return total / 3600


def scale_paths(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    """Results folder, RESULTS page and HTML report of ``args.scale``: each scale has its own units (the CPU
    scale at the top of ``analysis/results``, the GPU one under ``analysis/results/full``), so that a unit of
    one scale is never taken for the other's."""
    cpu = args.scale == "cpu"
    results_dir = Path(args.results_dir) if args.results_dir else RESULTS_DIR if cpu else RESULTS_DIR / args.scale
    suffix = "" if cpu else f"_{args.scale}"
    return (results_dir, Path(args.results or ROOT / "analysis" / f"RESULTS{suffix}.md"),
            Path(args.html or ROOT / "analysis" / f"study_report{suffix}.html"))


def run_workers(argv: list[str], jobs: int) -> int:
    """Start ``jobs`` copies of this command (without ``--jobs``) that share the unit list through per-unit
    locks, each with an equal share of the CPU threads; returns the first non-zero exit status."""
    import os
    import subprocess

    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--jobs":
            skip = True
        elif not a.startswith("--jobs="):
            rest.append(a)
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    procs = [subprocess.Popen([sys.executable, "-m", "analysis.study", *rest, "--no-rewrite"], env=env, cwd=ROOT)
             for _ in range(jobs)]
    logger.info("%d workers with %s thread(s) each: pids %s", jobs, threads, [p.pid for p in procs])
    codes = [p.wait() for p in procs]
    return next((c for c in codes if c), 0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    design = make_design(args.scale, seeds=tuple(args.seeds) if args.seeds else None, model=args.model,
                         device=args.device)
    results_dir, results_md, html = scale_paths(args)
    tasks = tuple(args.tasks) if args.tasks else None
    try:
        only = parse_units(design, args.units) if args.units else None
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    if args.plan:
        missing = missing_units(design, results_dir, tasks)
        for unit in (u for u in design.units(tasks) if only is None or u in only):
            logger.info("%-32s %s", unit_name(*unit), "missing" if unit in missing else "done")
        logger.info("planned hours at %.1f s/step: %s", args.sec_per_step,
                    {k: round(v, 1) for k, v in estimate_hours(design, sec_per_step=args.sec_per_step).items()})
        from analysis.study.tuning import tuning_path, tuning_units

        for task, variant, seed in tuning_units(design, tasks):
            done = tuning_path(results_dir, task, variant.name, seed).is_file()
            logger.info("%-32s %s", f"tuning {task}/{variant.name}/seed{seed}", "done" if done else "missing")
        from analysis.study.aggregate import load_results
        from analysis.study.plan_v3 import plan_lines

        for line in plan_lines(design, results_dir, load_results(results_dir)):
            logger.info("%s", line)
        left = remaining_hours(design, results_dir, missing)
        if left is not None:
            logger.info("still to run: about %.1f unit-hours at the pace the finished units ran (a unit-hour is "
                        "one hour of one unit; --jobs N runs N units at once, each slower)", left)
        return 0
    from analysis.study.aggregate import DesignMismatch, check_design, load_results
    from analysis.study.render import rewrite

    try:
        check_design(load_results(results_dir), design.to_dict(), results_dir)  # before any hour is spent
    except (ValueError, DesignMismatch) as exc:
        logger.error("%s", exc)
        return 2
    if not args.rewrite_results:
        data = Path(args.data)
        if not data.is_dir():
            logger.error("data folder %s not found (pass --data)", data)
            return 2
        if args.labels:
            from analysis.study.labels import write_label_files

            write_label_files(design, load_results(results_dir), results_dir, data,
                              Path(args.work) if args.work else default_work_dir())
        elif args.tune_v3:
            from analysis.study.tuning_v3 import run_v3_tuning

            run_v3_tuning(design, data_root=data, results_dir=results_dir, tasks=tasks,
                          work_dir=Path(args.work) if args.work else default_work_dir())
        elif args.tune:
            from analysis.study.tuning import run_tuning

            run_tuning(design, data_root=data, results_dir=results_dir, tasks=tasks,
                       work_dir=Path(args.work) if args.work else default_work_dir())
        elif args.jobs > 1:
            rc = run_workers(sys.argv[1:] if argv is None else argv, args.jobs)
            if rc:
                logger.error("a worker failed (exit %d); finished units are kept, rerun to continue", rc)
                return rc
        else:
                run_all(design, data_root=data, results_dir=results_dir, work_dir=Path(args.work) if args.work else
                    default_work_dir(), tasks=tasks, max_hours=args.max_hours, only=only)
    if args.no_rewrite:
        return 0
    from xalign.errors import XalignError

    try:
        missing = rewrite(design, results_dir, results_md, html, n_boot=design.n_boot)
    except XalignError as exc:  # e.g. DependencyError: the study extra is missing; nothing was written
        logger.error("%s", exc)
        return 2
    logger.info("wrote %s (%d units missing)", results_md, len(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
