"""Reading a task from the Hugging Face hub with ``datasets.load_dataset``, as its :class:`HubSource` says."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xalign.data.tasks.spec import TaskSpec, rows_dataset
from xalign.errors import ConfigError, MissingFileError

if TYPE_CHECKING:  # pragma: no cover
    import datasets


def from_hub(spec: TaskSpec, lang: str, split: str) -> "datasets.Dataset":
    """``split`` of ``spec`` in ``lang`` from the hub; offline or missing: one line saying to pass a local copy."""
    import datasets

    hub = spec.hub
    if hub is None:
        raise ConfigError(f"task {spec.name} has no hub source: give a local data folder (--data-dir)")
    name, config = hub.path, hub.config(lang)
    try:
        ds = datasets.load_dataset(name, config, split=hub.splits.get(split, split))
    except Exception as exc:  # offline, missing config, ...: one clear line
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise MissingFileError(f"could not load {spec.name} {lang}/{split} from the Hugging Face hub ({name}, "
                               f"{type(exc).__name__}: {first}); pass a local data directory instead") from None
    missing = [c for c in (*hub.columns, hub.label, hub.item_id) if c and c not in ds.column_names]
    if missing:
        raise MissingFileError(f"{name} {config}/{split} on the hub has no field(s) {missing}; it has "
                               f"{ds.column_names}")
    ids = ([str(x).strip() for x in ds[hub.item_id]] if hub.item_id
           else [f"{split}-{i:05d}" for i in range(len(ds))])
    texts = [ds[c] for c in hub.columns]
    labels = ds[hub.label]
    rows = [(ids[i], tuple(str(t[i]) for t in texts), str(labels[i])) for i in range(len(ds))]
    return rows_dataset(rows, spec, f"{name} {config}/{split}")
