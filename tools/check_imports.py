"""List import circles of any kind inside ``xalign/``, modules over 400 lines (``xalign/`` and the study
package ``analysis/study/``) and functions over 80 lines in ``xalign/``; exit 1 if there is any.

Every ``import``/``from … import`` of an ``xalign`` module counts, at module level or inside a
function (a lazy import is still a dependency), and so does one under ``if TYPE_CHECKING:`` (a
*type-only* edge: such a circle means two modules each need the other's types, which is a layout
problem even if Python never runs it). ``from pkg import name`` is an edge to ``pkg.name`` when that
is a module, else to ``pkg`` (its ``__init__``). A circle is a strongly connected component of more
than one module (or a module importing itself); its type-only edges are marked. Usage:
``python tools/check_imports.py [--max-lines 400] [--max-function-lines 80] [ROOT]``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PACKAGE = "xalign"


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
            if name == "TYPE_CHECKING":
                for child in node.body:
                    skip.update(id(n) for n in ast.walk(child))
    return skip


def imports_of(path: Path, name: str, modules: set[str], *, type_only: bool = False) -> set[str]:
    """The xalign modules ``path`` (module ``name``) imports at run time; with ``type_only``, also those
    imported under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = set() if type_only else _type_checking_nodes(tree)
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE and alias.name in modules:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = name.split(".") if is_pkg else name.split(".")[:-1]
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif base in modules:
                    found.add(base)
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components with a cycle only."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    item = stack.pop()
                    on_stack.discard(item)
                    comp.append(item)
                    if item == node:
                        break
                if len(comp) > 1 or node in graph[node]:
                    out.append(sorted(comp))
    return out


def long_functions(path: Path, limit: int) -> list[tuple[str, int, int]]:
    """``(qualified name, first line, length)`` of every function or method longer than ``limit`` lines
    (from ``def`` to its last line; decorators not counted)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = child.end_lineno - child.lineno + 1
                if n > limit:
                    out.append((prefix + child.name, child.lineno, n))
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
    visit(tree, "")
    return out


def _report_circles(files: dict[str, Path]) -> int:
    runtime = {name: imports_of(path, name, set(files)) for name, path in files.items()}
    full = {name: imports_of(path, name, set(files), type_only=True) for name, path in files.items()}
    problems = 0
    for comp in strongly_connected(full):
        problems += 1
        edges = [f"{a} -> {b}" + ("" if b in runtime[a] else "  (type-only)")
                 for a in comp for b in sorted(full[a]) if b in comp]
        kind = "import circle" if strongly_connected({m: runtime[m] & set(comp) for m in comp}) else \
            "type-only import circle"
        print(f"{kind}: {', '.join(comp)}\n  " + "\n  ".join(edges))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parent.parent),
                        help="repository root holding xalign/ (default: this script's repository)")
    parser.add_argument("--max-lines", type=int, default=400)
    parser.add_argument("--max-function-lines", type=int, default=80)
    args = parser.parse_args(argv)
    root = Path(args.root)
    files = {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}
    problems = _report_circles(files)
    for path in files.values():
        for qual, line, n in long_functions(path, args.max_function_lines):
            problems += 1
            print(f"function over {args.max_function_lines} lines: {path.relative_to(root)}:{line} {qual} ({n} lines)")
    sized = {**files, **{module_name(p, root): p for p in sorted((root / "analysis" / "study").rglob("*.py"))}}
    for name, path in sized.items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > args.max_lines:
            problems += 1
            print(f"module over {args.max_lines} lines: {path.relative_to(root)} ({n} lines)")
    if problems:
        print(f"check_imports: {problems} problem(s) in {len(files)} modules")
        return 1
    print(f"check_imports: {len(files)} modules, no import circles (type-only included), no module over "
          f"{args.max_lines} lines, no function over {args.max_function_lines}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
