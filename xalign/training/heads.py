"""Sentence-pair classification heads for ``xalign train``: the model's stock head, or mean pooling.

* ``stock`` — ``AutoModelForSequenceClassification``: for BERT-style models a ``[CLS]`` pooler (dense + tanh)
  then a linear layer. Encoders trained as sentence embedders (multilingual-e5, LaBSE's mean-pooled variants,
  the bundled offline e5) store no pooler weights, so that pooler starts from random values.
* ``mean`` — :class:`MeanPoolClassifier`: dropout and one linear layer over the attention-masked mean of the
  last hidden states over every token, ``<s>``/``</s>`` included (how multilingual-e5 was trained to pool),
  computed with :func:`xalign.embed.pooling.pool_sentences` (``Pooling.MEAN_ALL``). No randomly initialised
  dense layer sits between the encoder and the classifier.

A ``mean`` model saves as an encoder folder (``save_pretrained``, opens with ``AutoModel`` and
:func:`xalign.encoders.load_encoder`) plus ``xalign_head.json`` and ``classifier.safetensors``;
:func:`load_classifier` reopens either kind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers.modeling_outputs import SequenceClassifierOutput

from xalign.embed.pooling import Pooling, pool_sentences
from xalign.errors import ConfigError, ModelError

__all__ = ["HEADS", "MeanPoolClassifier", "build_classifier", "load_classifier"]

HEADS = ("stock", "mean")
HEAD_FILE, WEIGHTS_FILE = "xalign_head.json", "classifier.safetensors"


class MeanPoolClassifier(torch.nn.Module):
    """``encoder`` (an ``AutoModel``) → masked mean of the last hidden states → dropout → linear.

    ``forward`` takes what a sequence-classification model takes (``input_ids`` or ``inputs_embeds``,
    ``attention_mask``, ``token_type_ids``) and returns a ``SequenceClassifierOutput`` with ``logits``; the loss
    is the trainer's. ``config`` is the encoder's config, with ``num_labels``/``id2label`` set.
    """

    main_input_name = "input_ids"

    def __init__(self, encoder: torch.nn.Module, num_labels: int, *, dropout: float | None = None) -> None:
        super().__init__()
        if num_labels < 1:
            raise ConfigError(f"a classifier needs num_labels >= 1, got {num_labels}")
        self.encoder = encoder
        self.config = encoder.config
        hidden = int(self.config.hidden_size)
        if dropout is None:
            dropout = getattr(self.config, "classifier_dropout", None)
            if dropout is None:
                dropout = float(getattr(self.config, "hidden_dropout_prob", 0.1))
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(hidden, num_labels)
        std = float(getattr(self.config, "initializer_range", 0.02))
        torch.nn.init.normal_(self.classifier.weight, mean=0.0, std=std)
        torch.nn.init.zeros_(self.classifier.bias)

    @property
    def base_model(self) -> torch.nn.Module:
        return self.encoder

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.encoder.get_input_embeddings()

    def pooled(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
               inputs_embeds: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """The sentence vectors [batch, hidden] (float32) the classifier reads."""
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                           **kwargs)
        hidden = out.last_hidden_state
        if attention_mask is None:
            attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)
        no_special = torch.zeros_like(attention_mask, dtype=torch.bool)
        return pool_sentences(hidden[None], attention_mask, no_special, Pooling.MEAN_ALL)[0]

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs: Any) -> SequenceClassifierOutput:
        kwargs.pop("return_dict", None)
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        pooled = self.pooled(input_ids, attention_mask, inputs_embeds, **kwargs)
        logits = self.classifier(self.dropout(pooled.to(self.classifier.weight.dtype)))
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def save_pretrained(self, path: str | Path, **kwargs: Any) -> None:
        """The encoder (``save_pretrained``), ``classifier.safetensors`` and ``xalign_head.json``."""
        from safetensors.torch import save_file

        path = Path(path)
        self.encoder.save_pretrained(path, **kwargs)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.classifier.state_dict().items()},
                  str(path / WEIGHTS_FILE), metadata={"format": "pt"})
        spec = {"head": "mean", "pooling": Pooling.MEAN_ALL.value, "num_labels": int(self.classifier.out_features),
                "dropout": float(self.dropout.p),
                "id2label": {str(k): v for k, v in (getattr(self.config, "id2label", None) or {}).items()}}
        (path / HEAD_FILE).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")


def build_classifier(model_path: str, head: str, names: list[str], **load_kw: Any) -> torch.nn.Module:
    """A fresh classifier over the encoder at ``model_path`` with labels ``names``; ``load_kw`` goes to
    ``from_pretrained`` (``trust_remote_code``, ``use_safetensors``)."""
    from transformers import AutoModelForSequenceClassification

    labels = {"num_labels": len(names), "id2label": dict(enumerate(names)),
              "label2id": {n: i for i, n in enumerate(names)}}
    if head == "stock":
        return AutoModelForSequenceClassification.from_pretrained(model_path, **labels, **load_kw)
    if head == "mean":
        encoder = _encoder(model_path, load_kw)
        encoder.config.update(labels)
        return MeanPoolClassifier(encoder, len(names))
    raise ConfigError(f"head must be one of {list(HEADS)}, got {head!r}")


def _encoder(model_path: str, load_kw: dict[str, Any]) -> torch.nn.Module:
    """``AutoModel`` at ``model_path``, without its pooler where the class takes ``add_pooling_layer`` (BERT,
    XLM-R and kin): the mean head never reads a pooler, so none is built (no unused, unsaved weights)."""
    import inspect

    from transformers import AutoConfig, AutoModel
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    config = AutoConfig.from_pretrained(model_path, trust_remote_code=bool(load_kw.get("trust_remote_code")))
    cls = MODEL_MAPPING.get(type(config), None)
    if cls is not None and "add_pooling_layer" in inspect.signature(cls.__init__).parameters:
        return AutoModel.from_pretrained(model_path, add_pooling_layer=False, **load_kw)
    return AutoModel.from_pretrained(model_path, **load_kw)


def load_classifier(path: str | Path, **load_kw: Any) -> torch.nn.Module:
    """Reopen a saved ``model/`` folder of ``xalign train``: a stock head through
    ``AutoModelForSequenceClassification``, a mean head as :class:`MeanPoolClassifier` with its weights."""
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    path = Path(path)
    spec_file = path / HEAD_FILE
    if not spec_file.exists():
        return AutoModelForSequenceClassification.from_pretrained(str(path), **load_kw)
    try:
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        num_labels, dropout = int(spec["num_labels"]), float(spec["dropout"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{spec_file}: expected a JSON head spec with num_labels and dropout, got an unreadable "
                         f"file ({exc})") from None
    if spec.get("head") != "mean":
        raise ModelError(f"{spec_file}: expected head 'mean', got {spec.get('head')!r}")
    encoder = _encoder(str(path), load_kw)
    model = MeanPoolClassifier(encoder, num_labels, dropout=dropout)
    state = load_file(str(path / WEIGHTS_FILE))
    model.classifier.load_state_dict(state)
    return model
