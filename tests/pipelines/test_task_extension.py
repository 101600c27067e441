"""A new task plugs in through its TaskSpec alone: this file defines and registers a toy task with its own file
layout, and ``xalign train --task toyqa`` trains and evaluates it with no other edit (issue 24, item 1)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from xalign.cli.main import main
from xalign.data.tasks import (Layout, SplitSource, TaskSpec, load_task, register_task, task_names, task_spec,
                               unregister_task)
from xalign.errors import ConfigError

from ..robust.conftest import _one_thread, synthetic_pairs  # noqa: F401 - autouse fixture: one torch thread

LABELS = ("same", "different", "shuffled")  # synthetic_pairs' label ids, in that order


def _find(root: Path, spec: TaskSpec, split: str) -> list[SplitSource]:
    files = {p.name.split(".")[0]: p for p in sorted(root.glob(f"*.{split}.jsonl"))}
    return [SplitSource("toy-jsonl", root, files)] if files else []


def _read(path: Path, lang: str, split: str, spec: TaskSpec):
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        rows.append((obj["uid"], (obj["question"], obj["passage"]), obj["verdict"]))
    return rows, []


TOY = TaskSpec(name="toyqa", labels=LABELS, languages=("en", "de"),
               layouts=(Layout("toy-jsonl", _find, _read, lambda split: f"<lang>.{split}.jsonl"),),
               description="a toy pair task defined in a test")


@pytest.fixture
def toy_task():
    register_task(TOY)
    yield TOY
    unregister_task("toyqa")


def _write(root: Path, lang: str, split: str, n: int, seed: int) -> list[str]:
    a, b, y = synthetic_pairs(n, seed=seed)
    tr = str.upper if lang == "de" else (lambda s: s)
    uids = [f"{split}-{seed}-{i}" for i in range(n)]
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{lang}.{split}.jsonl").write_text("".join(
        json.dumps({"uid": u, "question": tr(s1), "passage": tr(s2), "verdict": LABELS[k]}) + "\n"
        for u, s1, s2, k in zip(uids, a, b, y)), encoding="utf-8")
    return uids


def test_a_task_registered_from_a_test_trains_through_the_cli(toy_task, tiny_bert_dir, tmp_path):
    data = tmp_path / "toy"
    _write(data, "en", "train", 18, 1)
    _write(data, "en", "dev", 6, 2)
    test_ids = {lang: _write(data, lang, "test", 9, 3) for lang in ("en", "de")}
    assert "toyqa" in task_names() and task_spec("toyqa") is TOY
    ds = load_task("toyqa", "de", "test", data_dir=data)
    assert ds.features["label"].names == list(LABELS) and list(ds["item_id"]) == test_ids["de"]
    assert ds[0]["sentence1"] == synthetic_pairs(9, seed=3)[0][0].upper()

    out = tmp_path / "run"
    code = main(["-q", "train", "--task", "toyqa", "--data-dir", str(data), "--eval-langs", "all",
                 "--model", str(tiny_bert_dir), "--out", str(out), "--max-steps", "3", "--batch-size", "4",
                 "--max-length", "32", "--logging-steps", "1", "--device", "cpu", "--seed", "3"])
    assert code == 0
    metrics = json.loads((out / "train_metrics.json").read_text(encoding="utf-8"))
    test = metrics["eval"]["splits"]["test"]
    assert sorted(test["accuracy"]) == ["de", "en"] and test["n"] == {"de": 9, "en": 9}
    for lang, ids in test_ids.items():  # the items evaluated are the file's, by uid
        assert test["item_ids_sha256"][lang] == hashlib.sha256("".join(f"{i}\n" for i in ids).encode()).hexdigest()
        assert len(test["correct"][lang]) == len(ids)
    saved = json.loads((out / "model" / "config.json").read_text(encoding="utf-8"))
    assert [saved["id2label"][str(i)] for i in range(3)] == list(LABELS)
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["task"] == "toyqa"


def test_registry_refuses_clashes_and_forgets(toy_task):
    with pytest.raises(ConfigError, match="task name 'xnli' is taken by task 'xnli'"):
        register_task(TaskSpec(name="xnli", labels=("a", "b"), languages=("en",)))
    with pytest.raises(ConfigError, match="'pairs' names your own"):
        register_task(TaskSpec(name="pairs", labels=("a", "b"), languages=("en",)))
    with pytest.raises(ConfigError, match=r"text_columns must be"):
        TaskSpec(name="x", labels=("a", "b"), languages=("en",), text_columns=("text",))
    with pytest.raises(ConfigError, match="labels must be at least two distinct names"):
        TaskSpec(name="x", labels=("a", "a"), languages=("en",))
    unregister_task("toyqa")
    with pytest.raises(ConfigError, match=r"unknown task 'toyqa': expected one of \['pawsx', 'sib200', 'xnli'\]"):
        task_spec("toyqa")


def test_an_installed_package_declares_a_task_by_entry_point(monkeypatch):
    """``[project.entry-points."xalign.tasks"] toyqa = "pkg:TASK"`` makes the task known in every process."""
    from xalign.data.tasks import registry

    class Point:
        name, value = "toyqa", "toy_pkg:TASK"

        def __init__(self, obj):
            self.obj = obj

        def load(self):
            return self.obj

    groups = []

    def points(group):
        groups.append(group)
        return [Point(TOY)]

    monkeypatch.setattr(registry, "entry_points", points)
    registry._builtin.cache_clear()
    try:
        assert task_spec("toyqa") is TOY and groups == ["xalign.tasks"] and "xnli" in task_names()
        monkeypatch.setattr(registry, "entry_points", lambda group: [Point("not a spec")])
        registry._builtin.cache_clear()
        with pytest.raises(ConfigError, match=r"entry point 'toyqa' \(toy_pkg:TASK\) in group xalign.tasks is a str"):
            task_spec("toyqa")
    finally:
        registry._builtin.cache_clear()
    monkeypatch.undo()
    registry._builtin.cache_clear()
    with pytest.raises(ConfigError, match="unknown task 'toyqa'"):
        task_spec("toyqa")
