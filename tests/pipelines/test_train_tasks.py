"""``xalign train`` on task data in XTREME / x-final layouts: item matching by id, dropped rows, the generalized
set, dev halves, recipes, offline RS-DA copies and mid-epoch checkpoint selection (issue 11)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from transformers import TrainerCallback

from xalign.data.tasks.layouts import choose_source
from xalign.data.tasks import load_task_split, task_spec
from xalign.errors import MissingFileError
from xalign.pipelines.train import TrainConfig, train
from xalign.training.evaluate import correct_from_string

from ..data.test_sib200 import sib_dir  # noqa: F401 - fixture: a 4-language SIB-200 folder
from ..robust.conftest import _one_thread, synthetic_pairs  # noqa: F401 - autouse fixture: one torch thread

PAWS = ["not_paraphrase", "paraphrase"]


def _xtreme(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{a}\t{b}\t{y}\n" for a, b, y in rows), encoding="utf-8")


def _xfinal(path, rows, ids):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id\tsentence1\tsentence2\tlabel\n" + "".join(
        f"{i}\t{a}\t{b}\t{y}\n" for i, (a, b, y) in zip(ids, rows)), encoding="utf-8")


def _rows(n, seed, lang):
    a, b, y = synthetic_pairs(n, seed=seed)
    tr = {"en": lambda s: s, "de": str.lower, "es": str.upper}[lang]
    return [[tr(s1), tr(s2), int(lab == 0)] for s1, s2, lab in zip(a, b, y)]


@pytest.fixture
def pawsx_dir(tmp_path):
    """PAWS-X-like copy: XTREME dev in en/de/es (de row 3 is 'NS', es row 5 empty), x-final test in en/de
    (de item 102 is 'NS'), and an English PAWS-Wiki-style training file."""
    root = tmp_path / "pawsx"
    for lang in ("en", "de", "es"):
        rows = _rows(12, 3, lang)
        if lang == "de":
            rows[3][0] = "NS"
        if lang == "es":
            rows[5][1] = ""
        _xtreme(root / "xtreme_dev" / f"dev-{lang}.tsv", rows)
    for lang in ("en", "de"):
        rows = _rows(8, 4, lang)
        if lang == "de":
            rows[2][1] = "NS"
        _xfinal(root / "x_final" / lang / "test_2k.tsv", rows, [100 + i for i in range(8)])
    train_rows = _rows(16, 5, "en")
    _xfinal(tmp_path / "paws_train.tsv", train_rows, list(range(1, 17)))
    return root


def test_layout_detection_prefers_most_languages_and_lists_layouts(pawsx_dir, tmp_path):
    spec = task_spec("pawsx")
    dev, test = choose_source(pawsx_dir, spec, "dev"), choose_source(pawsx_dir, spec, "test")
    assert (dev.layout, dev.languages) == ("xtreme", ["de", "en", "es"])
    assert (test.layout, test.languages) == ("x-final", ["de", "en"])
    assert choose_source(pawsx_dir, spec, "dev", layout="xtreme").folder.name == "xtreme_dev"
    with pytest.raises(MissingFileError, match=r"no pawsx dev data in .* x-final: <lang>/dev_2k.tsv"):
        choose_source(pawsx_dir, spec, "dev", layout="x-final")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingFileError, match=r"looked for the layouts xtreme: test-<lang>.tsv .*; x-final: "
                                               r"<lang>/test_2k.tsv \(in the folder or a subfolder\)$"):
        choose_source(empty, spec, "test")
    # flat and dev/+test/ subfolder XTREME layouts read identically, ids are rows
    flat = tmp_path / "flat"
    _xtreme(flat / "dev-en.tsv", _rows(5, 1, "en"))
    sub = tmp_path / "sub"
    _xtreme(sub / "dev" / "dev-en.tsv", _rows(5, 1, "en"))
    a, _ = load_task_split("pawsx", "en", "dev", data_dir=flat)
    b, _ = load_task_split("pawsx", "en", "dev", data_dir=sub)
    assert list(a["item_id"]) == list(b["item_id"]) == [f"dev-{i:05d}" for i in range(5)]
    assert list(a["sentence1"]) == list(b["sentence1"])


def test_bad_rows_are_dropped_per_language_and_counted(pawsx_dir, caplog):
    with caplog.at_level("WARNING"):
        de, dropped = load_task_split("pawsx", "de", "dev", data_dir=pawsx_dir)
    assert dropped == 1 and len(de) == 11 and "dev-00003" not in set(de["item_id"])
    assert "dropped 1 row(s) with an empty or 'NS' sentence (lines 4)" in caplog.text
    en, dropped = load_task_split("pawsx", "en", "test", data_dir=pawsx_dir)
    assert dropped == 0 and list(en["item_id"])[:3] == ["100", "101", "102"]


def _config(tmp_path, model_dir, **kw):
    base = dict(out=str(tmp_path / "run"), model=str(model_dir), max_length=64, batch_size=4, max_steps=4,
                logging_steps=1, learning_rate=5e-3, eval_batch_size=8, device="cpu", seed=3)
    base.update(kw)
    return TrainConfig(**base)


def test_pawsx_generalized_on_local_data_with_ns_rows(tmp_path, tiny_bert_dir, pawsx_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    cfg = _config(tmp_path, tiny_bert_dir, task="pawsx", data_dir=str(pawsx_dir),
                  train_file=str(tmp_path / "paws_train.tsv"), eval_langs=["all"], eval_splits=["test", "dev"],
                  generalized=True, generalized_split="dev", data_seed=0)
    m = train(cfg).metrics.to_json()
    ev = m["eval"]
    assert ev["split"] == "test" and set(ev["splits"]) == {"test", "dev"}
    assert set(ev["splits"]["test"]["accuracy"]) == {"en", "de"} and set(ev["splits"]["dev"]["accuracy"]) == {
        "en", "de", "es"}
    # test: every language on its own kept items (de lost item 102)
    assert ev["splits"]["test"]["n"] == {"en": 8, "de": 7} and ev["splits"]["test"]["dropped"]["de"] == 1
    # dev: selection on half A, evaluation on half B, no item in both
    select_ids = set(m["data"]["select_ids"])
    half_b = [f"dev-{i:05d}" for i in range(12) if f"dev-{i:05d}" not in select_ids]
    assert len(select_ids) + len(half_b) == 12 and len(select_ids) >= 6
    for lang, bad in (("en", set()), ("de", {"dev-00003"}), ("es", {"dev-00005"})):
        assert ev["splits"]["dev"]["n"][lang] == len([x for x in half_b if x not in bad]), lang
    # generalized: the items all three languages kept, the same in every cell
    gen = ev["generalized"]
    common = [x for x in half_b if x not in {"dev-00003", "dev-00005"}]
    assert gen["split"] == "dev" and gen["languages"] == ["de", "en", "es"] and gen["n"] == len(common)
    assert all(len(c) == len(common) for row in gen["correct"] for c in row)
    # one off-diagonal cell recomputed from the saved classifier on the same items
    run = tmp_path / "run"
    tok = AutoTokenizer.from_pretrained(run / "model")
    clf = AutoModelForSequenceClassification.from_pretrained(run / "model").eval()

    def file_rows(lang):
        lines = (pawsx_dir / "xtreme_dev" / f"dev-{lang}.tsv").read_text(encoding="utf-8").splitlines()
        return {f"dev-{i:05d}": line.split("\t") for i, line in enumerate(lines)}

    de, es = file_rows("de"), file_rows("es")
    with torch.no_grad():
        pred = [clf(**tok(de[x][0], es[x][1], return_tensors="pt")).logits.argmax(-1).item() for x in common]
    expected = "".join(str(int(p == int(de[x][2]))) for p, x in zip(pred, common))
    assert gen["correct"][0][2] == expected
    assert gen["matrix"][0][2] == pytest.approx(np.mean(correct_from_string(expected)))
    config = json.loads((run / "config.json").read_text())
    assert config["eval_splits"] == ["test", "dev"] and config["generalized_split"] == "dev"


def test_xnli_generalized_with_unequal_item_counts(tmp_path, tiny_bert_dir):
    root = tmp_path / "xnli"
    names = ["entailment", "neutral", "contradiction"]
    for lang, n in (("en", 10), ("sw", 8), ("ur", 9)):
        a, b, y = synthetic_pairs(n, seed=7)
        _xtreme(root / "test" / f"test-{lang}.tsv", [[s1, s2, names[k]] for s1, s2, k in zip(a, b, y)])
        a, b, y = synthetic_pairs(6, seed=8)
        _xtreme(root / "dev" / f"dev-{lang}.tsv", [[s1, s2, names[k]] for s1, s2, k in zip(a, b, y)])
    train_file = tmp_path / "mnli.jsonl"
    a, b, y = synthetic_pairs(12, seed=9)
    train_file.write_text("".join(json.dumps({"premise": s1, "hypothesis": s2, "label": k}) + "\n"
                                  for s1, s2, k in zip(a, b, y)), encoding="utf-8")
    m = train(_config(tmp_path, tiny_bert_dir, task="xnli", data_dir=str(root), train_file=str(train_file),
                      eval_langs=["en", "sw", "ur"], generalized=True, generalized_n=5, data_seed=1)).metrics.to_json()
    assert m["eval"]["splits"]["test"]["n"] == {"en": 10, "sw": 8, "ur": 9}
    gen = m["eval"]["generalized"]
    assert gen["n"] == 5 and all(len(c) == 5 for row in gen["correct"] for c in row)
    # the subsample is drawn from the 8 items all three share and is the same for another training seed
    again = train(_config(tmp_path / "b", tiny_bert_dir, task="xnli", data_dir=str(root), train_file=str(train_file),
                          eval_langs=["en", "sw", "ur"], generalized=True, generalized_n=5, data_seed=1, seed=4))
    assert again.metrics.eval.generalized.item_ids_sha256 == gen["item_ids_sha256"]
    # MultiNLI integer labels follow XNLI's declared order (0 entailment, 1 neutral, 2 contradiction)
    assert m["data"]["n_train"] == 12


class _Scramble(TrainerCallback):
    """Destroys the classifier after step ``at``: every later checkpoint is worse than the one before."""

    def __init__(self, at):
        self.at = at

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step >= self.at:
            with torch.no_grad():
                model.classifier.weight.zero_()
                model.classifier.bias.copy_(torch.tensor([0.0, 0.0, 50.0]))  # always "shuffled"


def test_mid_epoch_selection_keeps_the_best_checkpoint(tmp_path, tiny_bert_dir):
    from .test_train import _write_pairs

    a, b, y = synthetic_pairs(40, seed=1)
    tr = _write_pairs(tmp_path / "train.tsv", a, b, y, [f"t{i}" for i in range(40)])
    a, b, y = synthetic_pairs(12, seed=2)
    y = [0 if k == 2 else k for k in y]  # no "shuffled" item: the scrambled model scores 0
    sel = _write_pairs(tmp_path / "sel.tsv", a, b, y, [f"d{i}" for i in range(12)])
    cfg = _config(tmp_path, tiny_bert_dir, task="pairs", train_file=tr, select_file=sel, eval_files={"en": sel},
                  columns={"item_id": "id"}, label_names=["same", "different", "shuffled"], max_steps=8,
                  eval_steps=2, learning_rate=1e-2)
    m = train(cfg, callbacks=[_Scramble(5)]).metrics.to_json()  # 40 items / batch 4: steps 2 … 8 lie inside epoch 1
    curve = {c["step"]: c["value"] for c in m["select"]["curve"]}
    assert sorted(curve) == [2, 4, 6, 8] and curve[6] == curve[8] == 0.0
    best = max(curve, key=lambda s: (curve[s], -s))
    assert m["select"]["best_step"] == best and best in (2, 4) and m["select"]["accuracy"] == curve[best] > 0
    # the final evaluation is that of the best checkpoint (select data = eval data here), not of the last step
    assert m["eval"]["accuracy"]["en"] == pytest.approx(curve[best])


def test_recipe_presets_sources_and_scaled_eval_steps(tmp_path, tiny_bert_dir, pawsx_dir, caplog):
    cfg = TrainConfig.from_dict({"recipe": "robust-xlt", "task": "pawsx", "learning_rate": 1e-3})
    assert (cfg.epochs, cfg.eval_steps, cfg.batch_size, cfg.max_length, cfg.learning_rate) == (3.0, 500, 32, 128, 1e-3)
    assert cfg.sources["learning_rate"] == "user" and cfg.sources["epochs"] == "recipe"
    assert "rsda_copies" not in cfg.sources  # only rs-da takes the offline copies
    x = TrainConfig(recipe="robust-xlt", task="xnli", method="rs-da", synonyms="s.json", batch_size=16)
    assert (x.epochs, x.eval_steps, x.rsda_copies, x.batch_size, x.sources["batch_size"]) == (1.0, 1000, 3, 16, "user")
    with pytest.raises(ValueError, match="unknown --recipe 'xtreme-r'"):
        TrainConfig(recipe="xtreme-r")
    # a 16-item, 3-epoch run at batch 4 has 12 steps: the 500-step interval becomes 12 / (4632 // 500 = 9) → 2
    run = TrainConfig.from_dict({"recipe": "robust-xlt", "task": "pawsx", "out": str(tmp_path / "r"),
                                 "model": str(tiny_bert_dir), "data_dir": str(pawsx_dir), "eval_langs": ["en"],
                                 "train_file": str(tmp_path / "paws_train.tsv"), "batch_size": 4, "max_length": 64,
                                 "device": "cpu"})
    with caplog.at_level("INFO"):
        m = train(run).metrics.to_json()
    assert m["recipe"]["scaled"] == {"eval_steps": {"recipe": 500, "used": 2, "total_steps": 12}}
    assert [c["step"] for c in m["select"]["curve"]] == [2, 4, 6, 8, 10, 12]
    assert "evaluating every 2 steps instead" in caplog.text
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["recipe"] == "robust-xlt" and saved["sources"]["batch_size"] == "user"
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["recipe"]["scaled"]["eval_steps"]["used"] == 2


def test_rsda_offline_copies(tmp_path, tiny_bert_dir, pawsx_dir):
    from xalign.robust.substitutions import augment_pairs

    table = {"cat": ["kitten", "feline"], "dog": ["puppy"], "park": ["garden"]}
    s1 = ["The cat sits in the park", "A dog runs", "Nothing to change here"]
    s2 = ["the dog sleeps", "The cat", "still nothing"]
    a, b, src = augment_pairs(s1, s2, table, copies=3, seed=5)
    assert len(a) == len(b) == len(src) == 9 and src == [0, 1, 2] * 3  # copies only: no original line
    assert a[2::3] == ["Nothing to change here"] * 3  # nothing replaceable: the copy equals the original
    replaced = [x for i, x in enumerate(a) if src[i] == 0]
    assert any(x != s1[0] for x in replaced)  # substitutions happen where substitutes exist
    for x in replaced:
        words = x.split()
        assert words[1] in ("cat", "kitten", "feline") and words[5] in ("park", "garden")
    assert augment_pairs(s1, s2, table, copies=3, seed=5) == (a, b, src)  # reproducible with a seed
    assert augment_pairs(s1, s2, table, copies=3, seed=6) != (a, b, src)
    # in a run: 16 items × 3 copies, labels copied, the copies written once into the run folder
    syn = tmp_path / "syn.json"
    syn.write_text(json.dumps({"cat": ["kitten"], "dog": ["puppy"], "sits": ["rests"]}))
    cfg = _config(tmp_path, tiny_bert_dir, task="pawsx", data_dir=str(pawsx_dir), method="rs-da",
                  synonyms=str(syn), rsda_copies=3, train_file=str(tmp_path / "paws_train.tsv"), eval_langs=["en"])
    m = train(cfg).metrics.to_json()
    assert m["data"]["n_train"] == 16 and m["data"]["train_pairs"] == 48
    lines = (tmp_path / "run" / "rsda_copies.tsv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0].split("\t"), [x.split("\t") for x in lines[1:]]
    assert header == ["item_id", "copy", "sentence1", "sentence2", "label"] and len(rows) == 48
    train_rows = {r.split("\t")[0]: r.split("\t") for r in (tmp_path / "paws_train.tsv").read_text().splitlines()[1:]}
    for item, copy, x1, x2, label in rows:
        assert PAWS[int(train_rows[item][3])] == label  # the label of the copy is the original's
    assert {r[1] for r in rows} == {"0", "1", "2"}


@pytest.mark.parametrize("method", ["baseline", "adv", "rs-rp", "rs-da"])
def test_sib200_trains_on_english_and_tests_every_language(tmp_path, tiny_bert_dir, sib_dir, method):
    """One sentence, 7 topics: train on English train, select on English dev, test in every language of the folder,
    items matched by index_id (issue 26, section 5)."""
    from ..data.test_sib200 import LANGS, SIZES, _items

    extra = {}
    if method == "rs-da":
        syn = tmp_path / "syn.json"
        syn.write_text(json.dumps({"sentence": ["phrase"]}), encoding="utf-8")
        extra = dict(synonyms=str(syn), rsda_copies=2)
    cfg = _config(tmp_path, tiny_bert_dir, task="sib200", data_dir=str(sib_dir), eval_langs=["all"], method=method,
                  max_steps=2, **extra)
    m = train(cfg).metrics.to_json()
    test = m["eval"]["splits"]["test"]
    ids = sorted((i for i, _ in _items("test")), key=int)
    assert sorted(test["accuracy"]) == sorted(LANGS) and set(test["n"].values()) == {SIZES["test"]}
    expected = hashlib.sha256("".join(f"{i}\n" for i in ids).encode()).hexdigest()
    assert set(test["item_ids_sha256"].values()) == {expected}  # the same items, in index_id order, everywhere
    assert m["data"]["n_train"] == SIZES["train"] and sorted(m["data"]["select_ids"], key=int) == sorted(
        (i for i, _ in _items("dev")), key=int)
    for lang in LANGS:
        assert test["accuracy"][lang] == pytest.approx(np.mean(correct_from_string(test["correct"][lang])))
    if method == "rs-da":
        lines = (tmp_path / "run" / "rsda_copies.tsv").read_text(encoding="utf-8").splitlines()
        assert lines[0].split("\t") == ["item_id", "copy", "sentence1", "label"]
        assert len(lines) == 1 + 2 * SIZES["train"] and any("eng_Latn phrase " in x for x in lines[1:])
