"""The probe's settings: :class:`ProbeConfig`, each setting declared once with its choices and help (the CLI
builds its flags from these fields), and the one layer-list parser."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from xalign.embed.layers import parse_layers
from xalign.errors import ConfigError
from xalign.results.registry import RETRIEVAL_RULES

__all__ = ["ALIGN_METHODS", "POOLINGS", "PRESET_NAMES", "RETRIEVAL_METHODS", "SPLITS", "ProbeConfig", "parse_layers"]

RETRIEVAL_METHODS = RETRIEVAL_RULES
PRESET_NAMES = ("default", "xtreme-tatoeba", "mteb")
POOLINGS = ("mean", "mean_all", "cls")
ALIGN_METHODS = ("argmax", "itermax", "match", "softmax")
SPLITS = ("train", "dev", "test", "all")


def _opt(default: Any = None, help: str = "", choices: tuple[str, ...] | None = None, **kw: Any) -> Any:
    meta = {"help": help, **({"choices": choices} if choices else {})}
    if callable(default):
        return field(default_factory=default, metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


@dataclass
class ProbeConfig:
    """What to probe and how: each setting declared once, with its choices and help (the CLI builds its
    flags from these fields, see :func:`xalign.cli.common.add_config_args`). ``to_dict()`` is saved
    with every result."""

    model: str = _opt("default", "'default' (bundled multilingual-e5-small), a local HF directory or a hub id")
    pairs: list[str] = _opt(lambda: ["en-sw"], "language pairs such as en-sw; sw/swh/swa/swh_Latn are the same; "
                            "'en-all' pairs English with every other language of a --data sib200:DIR folder")
    langs: str | None = _opt(None, "with --pair xx-all: a file naming the languages to pair with xx, one code a line")
    data: str | None = _opt(None, "'demo', 'sib200:DIR', 'flores:DIR', 'ntrex:DIR' or a two-column TSV file")
    src_file: str | None = _opt(None, "source side: a text file with one sentence per line")
    tgt_file: str | None = _opt(None, "target side, line-aligned with --src-file")
    split: str | None = _opt(None, "split of a FLORES/SIB-200 folder (default: all)", SPLITS)
    limit: int | None = _opt(None, "use only the first N sentence pairs")
    strict: bool = _opt(False, "fail on empty lines instead of dropping them pairwise")
    layers: str | list[int] = _opt("all", "'all' or comma-separated hidden_states indices (each once)")
    preset: str = _opt("default", "published protocol to follow (recorded in the output)", PRESET_NAMES)
    pooling: str | None = _opt(None, "sentence pooling (default: the preset's)", POOLINGS)
    prefix: str | None = _opt(None, "text prepended to every sentence (off by default)")
    methods: list[str] | None = _opt(None, "retrieval rules (default: the preset's)")
    bli: bool = _opt(True, "bilingual lexicon induction when a dictionary for the pair is known")
    dictionary: str | None = _opt(None, "bilingual dictionary for BLI (default: the bundled one for the pair)")
    gold: str | None = _opt(None, "gold word alignments (Pharaoh or JSONL); scores word alignment for one pair")
    gold_pair: str | None = _opt(None, "the pair the gold belongs to (default: the only pair)")
    gold_bitext: str | None = _opt(None, "'src ||| tgt' file the gold refers to")
    gold_src_file: str | None = _opt(None, "source sentences the gold refers to")
    gold_tgt_file: str | None = _opt(None, "target sentences the gold refers to")
    gold_one_indexed: bool = _opt(False, "gold links count words from 1")
    align_method: str = _opt("itermax", "word-alignment method", ALIGN_METHODS)
    n_boot: int = _opt(1000, "bootstrap resamples for P@1/AER CIs and paired tests (0 = none)")
    n_boot_cka: int = _opt(200, "bootstrap resamples for CKA CIs and paired tests (0 = none)")
    seed: int = _opt(0, "seed of every resampling")
    batch_size: int = _opt(32, "sentences per forward pass (results agree across batch sizes to ~1e-6)")
    device: str | None = _opt(None, "cuda, cpu or mps (default: CUDA when available); used by model and metrics")
    dtype: str | None = _opt(None, "weights dtype: float32 (default), bf16, fp16, auto")
    revision: str | None = _opt(None, "hub revision (branch, tag or commit)")
    trust_remote_code: bool = _opt(False, "allow model code from the hub (off by default)")
    allow_pickle: bool = _opt(False, "also load pickle weights (pytorch_model.bin); default: safetensors only")
    report: bool = _opt(True, "write report.html")
    progress: bool = _opt(True, "progress bars on a terminal: sentences embedded per side, and languages done with "
                          "the time left when probing many languages")

    def __post_init__(self) -> None:
        from xalign.metrics.retrieval import PRESETS

        if self.preset not in PRESETS:
            raise ConfigError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        if isinstance(self.pairs, str):
            self.pairs = [self.pairs]
        if not self.pairs and self.src_file is None:
            raise ConfigError("pairs must name at least one language pair such as 'en-sw'")
        if self.methods is None:
            preset = PRESETS[self.preset]
            self.methods = list(RETRIEVAL_METHODS) if self.preset == "default" else list(preset.methods)
        unknown = [m for m in self.methods if m not in RETRIEVAL_METHODS]
        if unknown:
            raise ConfigError(f"unknown retrieval method(s) {unknown}; expected some of {list(RETRIEVAL_METHODS)}")
        if self.pooling is not None and self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {list(POOLINGS)}, got {self.pooling!r}")
        if self.align_method not in ALIGN_METHODS:
            raise ConfigError(f"align_method must be one of {', '.join(ALIGN_METHODS)}, got {self.align_method!r}")
        for name in ("n_boot", "n_boot_cka"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0 (0 = no bootstrap), got {value!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if (self.src_file is None) != (self.tgt_file is None):
            raise ConfigError("src_file and tgt_file go together; got only one of them")
        if self.split is not None and self.split not in SPLITS:
            raise ConfigError(f"--split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if self.langs is not None and not any(p.endswith("-all") for p in self.pairs):
            raise ConfigError(f"--langs {self.langs} lists the languages of a pair like 'en-all'; got --pair "
                              f"{', '.join(self.pairs)}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit must be >= 1, got {self.limit}")
        parse_layers(self.layers)

    @property
    def resolved_pooling(self) -> str:
        from xalign.metrics.retrieval import PRESETS

        return self.pooling or PRESETS[self.preset].pooling

    @property
    def splits(self) -> str | None:
        """The split to read (None: all of them)."""
        return None if self.split in (None, "all") else self.split

    @property
    def many(self) -> bool:
        """True for a many-language probe (``--pair xx-all``)."""
        return any(p.endswith("-all") for p in self.pairs)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "resolved_pooling": self.resolved_pooling}
