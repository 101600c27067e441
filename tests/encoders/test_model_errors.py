"""Issue 23 B/C/D: a broken or mismatched model folder is one line and exit 2 in every command, never a
traceback and never a silent fallback (a 5-token tokenizer, custom code skipped, a train run's config)."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
import torch

from xalign.cli.main import main
from xalign.encoders import load_encoder
from xalign.encoders.loading import _pickle_reason
from xalign.errors import ModelError


def _edit_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


def _truncate(folder):
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _garbage(folder):
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)


def _invalid_json(folder):
    (folder / "config.json").write_text('{"model_type": "bert",')


def _a_list(folder):
    (folder / "config.json").write_text("[1, 2]")


def _auto_map(folder):
    _edit_config(folder, auto_map={"AutoModel": "modeling_custom.CustomModel"})


def _no_tokenizer(folder):
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        (folder / name).unlink(missing_ok=True)


def _small_model(folder):
    """Weights with a 40-row embedding table next to the original (larger) tokenizer."""
    from transformers import BertConfig, BertModel

    _edit_config(folder)
    config = BertConfig.from_pretrained(folder)
    config.vocab_size = 40
    config.pad_token_id = 0
    BertModel(config, add_pooling_layer=False).save_pretrained(folder, safe_serialization=True)


CASES = [
    (_truncate, "the safetensors weights are damaged or truncated"),
    (_garbage, "the safetensors weights are damaged or truncated"),
    (_invalid_json, "config.json: invalid JSON"),
    (_a_list, "expected a model config (a JSON object with 'model_type'), found list"),
    (_auto_map, "asks for the model's own code (auto_map: AutoModel)"),
    (_no_tokenizer, "no tokenizer files in"),
    (_small_model, "but the model's embedding table has 40 rows"),
]


@pytest.mark.parametrize("damage, message", CASES, ids=[c[0].__name__.strip("_") for c in CASES])
def test_a_broken_model_folder_is_one_line_and_exit_2(tiny_bert_dir, tmp_path, capsys, damage, message):
    damage(tiny_bert_dir)
    code = main(["-q", "embed", "--model", str(tiny_bert_dir), "--pair", "en-sw", "--limit", "2",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "Traceback" not in err, err
    assert err.startswith("xalign embed: error: ") and message in err, err
    with pytest.raises(ModelError, match=message.split(" (")[0]):  # the library raises the same error
        load_encoder(str(tiny_bert_dir))


def test_auto_map_loads_with_trust_remote_code_declared(tiny_bert_dir):
    _edit_config(tiny_bert_dir, auto_map={"AutoConfig": "transformers.BertConfig"})
    with pytest.raises(ModelError, match="--trust-remote-code"):
        load_encoder(str(tiny_bert_dir))


def test_a_train_run_folder_loads_its_encoder(tiny_bert_dir, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"command": "train", "model": "x"}))
    with pytest.raises(FileNotFoundError, match="train run without a saved encoder/"):
        load_encoder(str(run))
    shutil.copytree(tiny_bert_dir, run / "encoder")
    enc = load_encoder(str(run))
    assert enc.source == str((run / "encoder").resolve()) and enc.num_layers == 2


def test_the_pickle_refusal_keeps_torchs_reason_and_drops_its_advice(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("never",))

    torch.save({"w": Evil()}, tmp_path / "evil.bin")
    with pytest.raises(pickle.UnpicklingError) as info:
        torch.load(tmp_path / "evil.bin", weights_only=True)
    reason = _pickle_reason(info.value)
    assert "GLOBAL" in reason and "print" in reason  # torch's finding, in full
    assert "weights_only` set to `False`" not in reason and "Re-running" not in reason  # not its advice


def test_device_cuda_without_cuda_is_one_line(tiny_bert_dir, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    code = main(["-q", "embed", "--model", str(tiny_bert_dir), "--device", "cuda", "--pair", "en-sw", "--limit",
                 "2", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("xalign embed: error: device 'cuda' was requested but CUDA is not available")
