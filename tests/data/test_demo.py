"""The bundled demo data: contents, licences, packaging and reproducibility from ../shared/data."""

from __future__ import annotations

import fnmatch
import importlib.util
from pathlib import Path

import pytest

from xalign.data import demo_gold, demo_pairs, load_demo, load_parallel
from xalign.data.demo import DEMO_LANGS, demo_file

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
DEMO_DIR = REPO / "xalign" / "data" / "demo"
PACKAGE_DATA = ("*.tsv", "*.txt", "*.md", "LICENSE*")  # setup.cfg [options.package_data] xalign.data.demo


def test_demo_pairs() -> None:
    assert demo_pairs() == ["en-sw", "en-ur", "en-yo", "en-hi", "en-de", "en-fr"]


@pytest.mark.parametrize("pair", ["en-sw", "en-ur", "en-yo", "en-hi", "en-de", "en-fr"])
def test_each_demo_pair_has_1004_parallel_sentences(pair: str) -> None:
    c = load_demo(pair)
    assert len(c) == 1004 and c.pair == pair and c.dropped_empty == 0 and c.name == "flores200-demo"
    assert c.ids[:3] == ["431", "403", "1592"] and len(set(c.ids)) == 1004
    assert c.src[0].startswith("Turkey is encircled by seas on three sides")
    assert [s["path"] for s in c.sources] == ["demo:flores200.en.txt", f"demo:flores200.{pair[3:]}.txt",
                                              "demo:flores200.ids.tsv"]
    reverse = load_demo(pair[3:] + "-en")
    assert reverse.pair == pair[3:] + "-en" and reverse.src == c.tgt and reverse.tgt == c.src


def test_demo_accepts_any_two_demo_languages_and_splits() -> None:
    c = load_demo("swh_Latn-hin_Deva")
    assert c.pair == "sw-hi" and c.src == load_demo("en-sw").tgt and c.tgt == load_demo("en-hi").tgt
    sizes = {s: len(load_demo("en-fr", split=s)) for s in ("train", "dev", "test")}
    assert sizes == {"train": 701, "dev": 99, "test": 204}
    test = load_demo("en-fr", split="test")
    full = load_demo("en-fr")
    assert test.src == full.src[800:] and test.ids == full.ids[800:] and test.name == "flores200-demo:test"
    with pytest.raises(ValueError, match=r"unknown split 'devtest' for the demo set"):
        load_demo("en-fr", split="devtest")
    with pytest.raises(ValueError, match=r"no bundled demo data for en-ja \('ja' is not bundled\); available pairs"):
        load_demo("en-ja")
    with pytest.raises(ValueError, match=r"bundled demo pairs: en-sw"):
        load_demo("en")


def test_demo_equals_the_shared_flores_files() -> None:
    root = SHARED / "flores200_via_sib200"
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root}")
    for lang in DEMO_LANGS[1:]:
        shipped = load_demo(f"en-{lang}")
        source = load_parallel(data=f"flores:{root}", pair=f"en-{lang}")
        assert (shipped.src, shipped.tgt, shipped.ids) == (source.src, source.tgt, source.ids)


def test_build_script_reproduces_the_shipped_files_byte_for_byte() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    spec = importlib.util.spec_from_file_location("build_demo_data", REPO / "analysis" / "build_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    files = module.demo_files(SHARED)
    assert module.check(files, DEMO_DIR) == []
    shipped = {p.name for p in DEMO_DIR.iterdir() if p.is_file() and p.name != "__init__.py"}
    assert shipped == set(files), "files in the demo folder that the build script does not produce"


def test_demo_folder_is_small_licensed_and_matches_package_data() -> None:
    files = [p for p in DEMO_DIR.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 2_000_000
    for p in files:
        if p.suffix != ".py":
            assert any(fnmatch.fnmatch(p.name, pat) for pat in PACKAGE_DATA), f"{p.name} is not package data"
    readme = demo_file("README.md").read_text(encoding="utf-8")
    for fact in ("dadelani/sib-200 @ 593cea8", "NLLB Team", "CC BY-SA 4.0", "mikeizbicki/wiktionary_bli @ a75387f",
                 "Wiktionary", "cisnlp/simalign @ ca1932a", "MIT", "Changes:"):
        assert fact in readme, fact
    assert demo_file("LICENSE.CC-BY-SA-4.0.md").read_text(encoding="utf-8").startswith(
        "Attribution-ShareAlike 4.0 International")
    assert "MIT License" in demo_file("LICENSE.simalign-MIT.txt").read_text(encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="bundled demo file missing: .*nothing.txt"):
        demo_file("nothing.txt")


def test_demo_gold_is_the_simalign_sample() -> None:
    g = demo_gold()
    assert len(g) == 5 and g.pair == "en-de" and g.out_of_range == 0 and g.name == "simalign-sample"
    assert g.src_words[0] == ["We", "do", "not", "believe", "that", "we", "should", "cherry-pick", "."]
    assert g.tgt_words[0][:4] == ["Wir", "glauben", "nicht", ","]
    # hand-read from the gold line "0	0-0 1-1 2-2 3-1 4-3 4-4 5-5 6-9 7-6 7-7 7-8 8-10"
    assert g.sure[0] == {(0, 0), (1, 1), (2, 2), (3, 1), (4, 3), (4, 4), (5, 5), (6, 9), (7, 6), (7, 7), (7, 8),
                         (8, 10)}
    assert all(s <= p for s, p in zip(g.sure, g.possible)) and g.possible[2] - g.sure[2] == {
        (19, 25), (19, 26), (20, 24), (21, 24), (22, 24), (2, 1), (8, 5)}
    assert [s["path"] for s in g.sources] == ["demo:simalign_sample.eng-deu.gold.txt", "demo:simalign_sample.eng.txt",
                                              "demo:simalign_sample.deu.txt"]
    corpus = g.to_parallel()
    assert corpus.pair == "en-de" and corpus.src[1] == "But this is not what happens ."
