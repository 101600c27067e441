"""The :class:`Encoder` object every downstream stage talks to, and device/dtype choice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xalign.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
           "half": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16", "auto": "auto"}


def choose_device(device: "str | torch.device | None" = None) -> "torch.device":
    """CUDA when available, else MPS where present, else CPU; an explicit ``device`` wins."""
    import torch

    if device is not None and str(device) != "auto":
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {str(device)!r} was requested but CUDA is not available here; use 'cpu' or 'auto'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def choose_dtype(dtype: "str | torch.dtype | None", device: "torch.device") -> "torch.dtype":
    """Weights dtype: float32 on CPU (fp16 on CPU is slow), bfloat16/float16 on GPU when ``"auto"``.

    ``None`` means float32 weights everywhere; mixed precision on GPU is handled by autocast in
    :func:`xalign.embed.embed`.
    """
    import torch

    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    key = _DTYPES.get(str(dtype).lower())
    if key is None:
        raise ConfigError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    if key == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, key)


@dataclass
class Encoder:
    """A transformers encoder with its fast tokenizer, ready for inference.

    ``hidden_states`` of the model has ``num_layers + 1`` entries: index 0 is the embedding output.
    """

    model: "PreTrainedModel"
    tokenizer: "PreTrainedTokenizerFast"
    name: str
    revision: str
    device: "torch.device"
    dtype: "torch.dtype"
    source: str = ""  # local directory the weights were read from, or the hub id
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def max_length(self) -> int:
        """Longest input in tokens: the smaller of the tokenizer limit and the position table."""
        limits = [getattr(self.model.config, "max_position_embeddings", None), self.tokenizer.model_max_length]
        offset = 2 if getattr(self.model.config, "model_type", "") in {"xlm-roberta", "roberta", "camembert"} else 0
        values = [int(v) - (offset if i == 0 else 0) for i, v in enumerate(limits) if v is not None and v < 10**8]
        return min(values) if values else 512

    def describe(self) -> dict[str, Any]:
        """Facts for manifests."""
        return {
            "name": self.name,
            "revision": self.revision,
            "source": self.source,
            "model_type": getattr(self.model.config, "model_type", None),
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "max_length": self.max_length,
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
        }

    def __repr__(self) -> str:
        return (f"Encoder(name={self.name!r}, revision={self.revision[:12]!r}, layers={self.num_layers}, "
                f"hidden={self.hidden_size}, device={self.device})")
