"""The task registry: every ``TASK`` a module of this package defines, plus those given to :func:`register_task`.

A new task is one module here (``xalign/data/tasks/<name>.py`` with ``TASK = TaskSpec(...)``) and its test; it
is found the first time a task is looked up. An installed package declares its tasks as entry points
(``[project.entry-points."xalign.tasks"] mytask = "mypkg.tasks:TASK"``); a task defined elsewhere (a notebook, a
test) calls :func:`register_task` and is then accepted everywhere a task is named in that process
(``xalign train --task``, the train API).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from importlib.metadata import entry_points
from pathlib import Path

from xalign.errors import ConfigError
from xalign.data.tasks.spec import TaskSpec

_TASKS: dict[str, TaskSpec] = {}  # tasks given to register_task, by name and alias


def _key(name: str) -> str:
    return str(name).lower().replace("-", "").replace("_", "")


@functools.cache
def _builtin() -> dict[str, TaskSpec]:
    """The ``TASK`` of every module of this package and of every ``xalign.tasks`` entry point of an installed
    package, by name and alias (imported once, on first use)."""
    specs = []
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        specs.append(getattr(importlib.import_module(f"{__package__}.{info.name}"), "TASK", None))
    for point in entry_points(group="xalign.tasks"):
        spec = point.load()
        if not isinstance(spec, TaskSpec):
            raise ConfigError(f"entry point {point.name!r} ({point.value}) in group xalign.tasks is a "
                              f"{type(spec).__name__}, expected a TaskSpec")
        specs.append(spec)
    return {_key(k): spec for spec in specs if isinstance(spec, TaskSpec) for k in (spec.name, *spec.aliases)}


def _lookup(key: str) -> TaskSpec | None:
    return _TASKS.get(key) or _builtin().get(key)


def register_task(spec: TaskSpec, *, replace: bool = False) -> TaskSpec:
    """Make ``spec`` known by its name and aliases; ``ConfigError`` if another task has one of them."""
    if not isinstance(spec, TaskSpec):
        raise TypeError(f"register_task needs a TaskSpec, got {type(spec).__name__}")
    keys = [_key(spec.name), *(_key(a) for a in spec.aliases)]
    if "pairs" in keys:
        raise ConfigError("'pairs' names your own train/select/eval files; give the task another name")
    for key in keys:
        other = _lookup(key)
        if other is not None and other is not spec and not replace:
            raise ConfigError(f"task name {key!r} is taken by task {other.name!r} (pass replace=True to replace it)")
    _TASKS.update({key: spec for key in keys})
    return spec


def unregister_task(name: str) -> None:
    """Forget the task ``name`` (and its aliases); tests use it to clean up."""
    spec = _TASKS.get(_key(name))
    if spec is not None:
        for key in [k for k, v in _TASKS.items() if v is spec]:
            del _TASKS[key]


def task_names() -> list[str]:
    """The names of the known tasks, sorted."""
    return sorted({spec.name for spec in (*_builtin().values(), *_TASKS.values())})


def task_spec(task: str | TaskSpec) -> TaskSpec:
    """The :class:`TaskSpec` named ``task`` (or an alias: ``paws-x``); ``ConfigError`` naming the known tasks."""
    if isinstance(task, TaskSpec):
        return task
    spec = _lookup(_key(task))
    if spec is None:
        raise ConfigError(f"unknown task {task!r}: expected one of {task_names()} (or 'pairs' with your own files)")
    return spec


def check_language(spec: TaskSpec | str, lang: str) -> str:
    """The task's code for ``lang`` (``"sw"`` → ``"sw"`` for XNLI, ``"swh_Latn"`` for SIB-200)."""
    return task_spec(spec).language(lang)
