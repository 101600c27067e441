"""load_encoder on local directories, offline hub failures, device and dtype choice."""

from __future__ import annotations

import pytest
import torch

from xalign.encoders import Encoder, choose_device, choose_dtype, load_encoder, resolve_model_path


def test_local_directory_loads_with_facts(tiny_model_dir):
    enc = load_encoder(str(tiny_model_dir), device="cpu")
    assert isinstance(enc, Encoder)
    assert enc.num_layers == 2 and enc.hidden_size == 32 and enc.max_length == 64
    assert enc.revision.startswith("sha256:") and len(enc.revision) == len("sha256:") + 64
    assert enc.device == torch.device("cpu") and not enc.model.training
    again = load_encoder(str(tiny_model_dir), device="cpu")
    assert again.revision == enc.revision  # content hash is stable
    assert enc.tokenizer.is_fast


def test_revision_changes_with_weights(tiny_model_dir, tmp_path):
    from tests.conftest import build_tiny_model

    kind = tiny_model_dir.name
    other = build_tiny_model(kind, tmp_path / "other", seed=1)
    assert load_encoder(str(other)).revision != load_encoder(str(tiny_model_dir)).revision


def test_missing_directory_and_not_a_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model_path(str(tmp_path / "nope" / "model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        resolve_model_path(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="non-empty string"):
        resolve_model_path("")


def test_uncached_hub_id_fails_in_one_line(monkeypatch):
    import huggingface_hub

    def unreachable(self, *args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", unreachable)
    with pytest.raises(OSError) as info:
        load_encoder("some-org/certainly-not-cached-model")
    message = str(info.value)
    assert "some-org/certainly-not-cached-model" in message and "default" in message and "\n" not in message


def test_safetensors_required_unless_allowed(tiny_bert_dir):
    from transformers import AutoModel

    model = AutoModel.from_pretrained(tiny_bert_dir)
    (tiny_bert_dir / "model.safetensors").unlink()
    torch.save(model.state_dict(), tiny_bert_dir / "pytorch_model.bin")
    with pytest.raises(OSError, match="safetensors"):
        load_encoder(str(tiny_bert_dir))
    assert load_encoder(str(tiny_bert_dir), allow_pickle_weights=True).num_layers == 2


def test_device_and_dtype_choice():
    assert choose_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert choose_device(None) in (torch.device("cpu"), torch.device("mps"))
        with pytest.raises(ValueError, match="CUDA is not available"):
            choose_device("cuda")
    cpu = torch.device("cpu")
    assert choose_dtype(None, cpu) == torch.float32
    assert choose_dtype("auto", cpu) == torch.float32
    assert choose_dtype("bf16", cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="dtype must be one of"):
        choose_dtype("int3", cpu)


def test_a_local_load_draws_no_weights_bar_and_leaves_the_setting_alone(tiny_bert_dir, capfd):
    """Issue 23 E: "Loading weights 100%" on every API load of a local folder (nothing is downloaded)."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()  # an in-process CLI test may have turned bars off
    hf_logging.enable_progress_bar()
    try:
        capfd.readouterr()
        load_encoder(str(tiny_bert_dir), device="cpu")
        assert "Loading weights" not in capfd.readouterr().err
        assert hf_logging.is_progress_bar_enabled()  # the caller's setting is back
    finally:
        if not was_on:
            hf_logging.disable_progress_bar()
