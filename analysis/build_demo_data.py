"""Regenerate xalign's bundled demo data (xalign/data/demo/) from ../shared/data.

    python analysis/build_demo_data.py            # write the files
    python analysis/build_demo_data.py --check    # exit 1 when the shipped files differ

What it ships (all permissively licensed, see the generated README.md):
* FLORES-200 via SIB-200 (CC BY-SA 4.0): the 1,004 sentences of train + dev + test, in that order,
  joined on index_id, one text file per language, plus flores200.ids.tsv (index_id, split, topic).
* Wiktionary BLI test dictionaries (CC BY-SA), byte for byte, renamed dict.<xx>-en.test.tsv.
* SimAlign's en-de sample with gold alignments (MIT), byte for byte, renamed simalign_sample.*.
* The CC BY-SA 4.0 legal code (from NTREX's LICENSE.md) and SimAlign's MIT licence.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path

from xalign.data import flores_code, language_name, load_parallel
from xalign.io import atomic_path

logger = logging.getLogger("build_demo_data")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "xalign" / "data" / "demo"
LANGS = ("en", "sw", "ur", "yo", "hi", "de", "fr")
SPLITS = ("train", "dev", "test")
COPIES = {  # shipped name -> path under shared/data (copied byte for byte)
    **{f"dict.{x}-en.test.tsv": f"dict_wiktionary_bli/{x}-en.test" for x in LANGS if x != "en"},
    "simalign_sample.eng.txt": "word_alignment/simalign_sample/sample_eng.txt",
    "simalign_sample.deu.txt": "word_alignment/simalign_sample/sample_deu.txt",
    "simalign_sample.eng-deu.gold.txt": "word_alignment/simalign_sample/sample_eng_deu.gold",
    "LICENSE.CC-BY-SA-4.0.md": "ntrex128/LICENSE.md",
    "LICENSE.simalign-MIT.txt": "word_alignment/simalign_sample/LICENSE",
}

README_HEAD = """\
# xalign demo data

Small, permissively licensed data shipped with xalign so that `xalign probe` and the tutorials run
offline. Regenerate with `python analysis/build_demo_data.py` (from `../shared/data`); `--check`
verifies that the shipped files match their sources.

## FLORES-200 sentences (via SIB-200) — CC BY-SA 4.0

`flores200.<lang>.txt` for {langs}: the 1,004 FLORES-200 sentences that SIB-200 annotates with
topics, one sentence a line, lines parallel across all files (multi-way parallel).
`flores200.ids.tsv` gives, for line *i* of every text file, the FLORES `index_id`, the SIB-200
split (`train`, `dev`, `test`) and the SIB-200 topic label.

- Source: SIB-200, github.com/dadelani/sib-200 @ 593cea8, `data/annotated/<code>/{{train,dev,test}}.tsv`
  (codes {codes}).
- Original data: FLORES-200 by the NLLB Team, Meta AI (NLLB Team et al., 2022, "No Language Left Behind:
  Scaling Human-Centered Machine Translation"; Goyal et al., 2022, "The Flores-101 Evaluation Benchmark for
  Low-Resource and Multilingual Machine Translation"), licensed CC BY-SA 4.0. SIB-200 topic labels by
  Adelani et al., 2023 ("SIB-200: A Simple, Inclusive, and Big Evaluation Dataset for Topic Classification
  in 200+ Languages and Dialects"), CC BY-SA 4.0.
- Changes: kept the `text` column only; concatenated train, dev and test in that order; joined the
  languages on `index_id` (their rows already share one order); wrote one UTF-8 file per language with
  `\\n` line endings; moved `index_id` and `category` to `flores200.ids.tsv`. Sentence text is unchanged
  (including a few leading spaces).
- Licence: CC BY-SA 4.0, full text in `LICENSE.CC-BY-SA-4.0.md`. These files, as adapted here, are
  shared under the same licence.

## Wiktionary bilingual dictionaries — CC BY-SA

`dict.<xx>-en.test.tsv` for {dict_langs}: the BLI **test** splits, `foreign<TAB>english`, one translation
a line (train and test are disjoint by source word).

- Source: github.com/mikeizbicki/wiktionary_bli @ a75387f, `final/<xx>-en.test` ("Aligning Word Vectors
  on Low-Resource Languages with Wiktionary"), extracted from Wiktionary (wiktionary.org), whose text is
  licensed CC BY-SA.
- Changes: renamed only (bytes unchanged). Licence text: `LICENSE.CC-BY-SA-4.0.md`.

## SimAlign sample gold alignments — MIT

`simalign_sample.eng.txt`, `simalign_sample.deu.txt` (`id<TAB>sentence`, tokenized) and
`simalign_sample.eng-deu.gold.txt` (`id<TAB>` + 0-indexed Pharaoh links, `i-j` sure, `ipj` possible):
5 English-German sentence pairs.

- Source: github.com/cisnlp/simalign @ ca1932a, `samples/` (Jalili Sabet et al., 2020, "SimAlign: High
  Quality Word Alignments without Parallel Training Data using Static and Contextualized Embeddings").
- Changes: renamed only (bytes unchanged). Licence: MIT, `LICENSE.simalign-MIT.txt`
  (Copyright (c) 2020-2021 Masoud Jalili Sabet, Philipp Dufter).

`LICENSE.CC-BY-SA-4.0.md` is the Creative Commons Attribution-ShareAlike 4.0 International legal code as
distributed in github.com/MicrosoftTranslator/NTREX @ 8561f6a (`LICENSE.md`).

## Files

| file | lines | sha256 | from |
|---|---|---|---|
"""


def _flores_categories(shared: Path) -> list[tuple[str, str, str]]:
    """(index_id, split, category) of the English rows, in train, dev, test order."""
    rows = []
    for split in SPLITS:
        lines = (shared / "flores200_via_sib200" / "eng_Latn" / f"{split}.tsv").read_text(encoding="utf-8")
        head, *body = lines.splitlines()
        if head.split("\t") != ["index_id", "category", "text"]:
            raise ValueError(f"unexpected header in eng_Latn/{split}.tsv: {head!r}")
        rows += [(r.split("\t")[0], split, r.split("\t")[1]) for r in body]
    return rows


def demo_files(shared: Path) -> dict[str, tuple[bytes, str]]:
    """Every demo file as ``{name: (bytes, provenance)}``, built from ``shared``."""
    root = shared / "flores200_via_sib200"
    out: dict[str, tuple[bytes, str]] = {}
    en = None
    for lang in LANGS[1:]:
        corpus = load_parallel(data=f"flores:{root}", pair=f"en-{lang}", strict=True)
        if en is None:
            en = corpus
            meta = _flores_categories(shared)
            if [m[0] for m in meta] != corpus.ids:
                raise ValueError("English index_id order differs between the TSVs and load_parallel")
            text = "index_id\tsplit\tcategory\n" + "".join(f"{i}\t{s}\t{c}\n" for i, s, c in meta)
            out["flores200.ids.tsv"] = (text.encode("utf-8"), "flores200_via_sib200/eng_Latn/{train,dev,test}.tsv")
            out["flores200.en.txt"] = ("".join(t + "\n" for t in corpus.src).encode("utf-8"),
                                       f"flores200_via_sib200/{flores_code('en')}/*.tsv")
        if corpus.ids != en.ids or corpus.src != en.src:
            raise ValueError(f"en-{lang}: rows do not line up with en-{LANGS[1]}")
        out[f"flores200.{lang}.txt"] = ("".join(t + "\n" for t in corpus.tgt).encode("utf-8"),
                                        f"flores200_via_sib200/{flores_code(lang)}/*.tsv")
    for name, rel in COPIES.items():
        out[name] = ((shared / rel).read_bytes(), rel)
    newline = b"\n"
    table = "".join(f"| `{name}` | {data.count(newline)} | `{hashlib.sha256(data).hexdigest()[:16]}…` | `{src}` |\n"
                    for name, (data, src) in sorted(out.items()))
    readme = README_HEAD.format(
        langs=", ".join(f"{x} ({language_name(x)})" for x in LANGS),
        codes=", ".join(flores_code(x) for x in LANGS),
        dict_langs=", ".join(LANGS[1:]),
    ) + table
    out["README.md"] = (readme.encode("utf-8"), "analysis/build_demo_data.py")
    return out


def check(files: dict[str, tuple[bytes, str]], out_dir: Path) -> list[str]:
    """Names of files that are missing from ``out_dir`` or differ from ``files``."""
    return [name for name, (data, _) in sorted(files.items())
            if not (out_dir / name).is_file() or (out_dir / name).read_bytes() != data]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the demo package folder")
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on differences")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.shared.is_dir():
        logger.error("shared data folder not found: %s", args.shared)
        return 2
    files = demo_files(args.shared)
    if args.check:
        bad = check(files, args.out)
        for name in bad:
            logger.error("differs or missing: %s", args.out / name)
        logger.info("%d of %d demo files match", len(files) - len(bad), len(files))
        return 1 if bad else 0
    for name, (data, _) in files.items():
        with atomic_path(args.out / name) as tmp:
            tmp.write_bytes(data)
    total = sum(len(d) for d, _ in files.values())
    logger.info("wrote %d files, %.2f MB, to %s", len(files), total / 1e6, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
