"""tools/check_imports.py finds runtime and type-only import circles and long functions (hand-built trees)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("check_imports", ROOT / "tools" / "check_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / "xalign" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_clean_tree_passes(tmp_path, capsys):
    root = _tree(tmp_path, {"__init__.py": "", "a.py": "from xalign import b\n", "b.py": "x = 1\n"})
    assert _tool().main([str(root)]) == 0


def test_type_only_circle_is_found_and_marked(tmp_path, capsys):
    root = _tree(tmp_path, {
        "__init__.py": "",
        "a.py": "from xalign import b\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from xalign.a import A\n",
    })
    assert _tool().main([str(root)]) == 1
    out = capsys.readouterr().out
    assert "type-only import circle: xalign.a, xalign.b" in out
    assert "xalign.b -> xalign.a  (type-only)" in out


def test_runtime_circle_is_not_called_type_only(tmp_path, capsys):
    root = _tree(tmp_path, {"__init__.py": "", "a.py": "import xalign.b\n", "b.py": "def f():\n    import xalign.a\n"})
    assert _tool().main([str(root)]) == 1
    assert "\nimport circle: xalign.a, xalign.b" in "\n" + capsys.readouterr().out


def test_long_function_is_found(tmp_path, capsys):
    body = "def long():\n" + "    x = 1\n" * 80 + "\n\nclass C:\n    def ok(self):\n        return 1\n"
    root = _tree(tmp_path, {"__init__.py": "", "a.py": body})
    assert _tool().main([str(root)]) == 1
    assert "function over 80 lines: xalign/a.py:1 long (81 lines)" in capsys.readouterr().out
    assert _tool().main([str(root), "--max-function-lines", "81"]) == 0
