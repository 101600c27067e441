"""Shared fixtures: tiny random encoders built offline (no download), and the shared data folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

CORPUS = [
    "The cat sits on the mat.", "Paka ameketi kwenye mkeka.", "A dog runs in the park!",
    "Mbwa anakimbia katika bustani.", "Der Hund läuft im Park.", "Le chien court dans le parc.",
    "Birds fly over the river at dawn.", "Ndege wanaruka juu ya mto alfajiri.",
    "Children read books at school; teachers help them.", "Watoto wanasoma vitabu shuleni.",
    "unbelievable tokenization handles punctuation, numbers 12345 and hyphen-ated words",
    "नमस्ते दुनिया", "یہ ایک جملہ ہے", "Ọmọ náà ń ka ìwé.",
]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent (only developer machines and CI have it)")
    return SHARED_DATA


def _wordpiece_tokenizer():
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(CORPUS * 3, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)


def _unigram_tokenizer():
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=200, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                      unk_token="<unk>")
    tok.train_from_iterator(CORPUS * 3, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    tok.decoder = decoders.Metaspace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>",
                                   model_max_length=64)


def build_tiny_model(kind: str, directory: Path, *, seed: int = 0, num_layers: int = 2) -> Path:
    """Save a random tiny BERT (WordPiece) or XLM-R (Unigram/SentencePiece-style) encoder to ``directory``."""
    import torch
    from transformers import BertConfig, BertModel, XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(seed)
    if kind == "bert":
        tokenizer = _wordpiece_tokenizer()
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=num_layers,
                            num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                            pad_token_id=tokenizer.pad_token_id)
        model = BertModel(config, add_pooling_layer=False)
    elif kind == "xlmr":
        tokenizer = _unigram_tokenizer()
        config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=num_layers,
                                  num_attention_heads=2, intermediate_size=64, max_position_embeddings=66,
                                  pad_token_id=tokenizer.pad_token_id, bos_token_id=0, eos_token_id=2)
        model = XLMRobertaModel(config, add_pooling_layer=False)
    else:
        raise ValueError(kind)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def _tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {kind: build_tiny_model(kind, root / kind) for kind in ("bert", "xlmr")}


@pytest.fixture(params=["bert", "xlmr"])
def tiny_model_dir(request, _tiny_dirs, tmp_path) -> Path:
    """A per-test copy of a tiny random encoder directory (BERT/WordPiece or XLM-R/Unigram)."""
    dst = tmp_path / request.param
    shutil.copytree(_tiny_dirs[request.param], dst)
    return dst


@pytest.fixture
def tiny_bert_dir(_tiny_dirs, tmp_path) -> Path:
    dst = tmp_path / "bert"
    shutil.copytree(_tiny_dirs["bert"], dst)
    return dst


@pytest.fixture
def tiny_encoder(tiny_model_dir):
    from xalign.encoders import load_encoder

    return load_encoder(str(tiny_model_dir), device="cpu")


XLM_SPECIALS = ["<s>", "</s>", "<pad>", "<unk>"] + [f"<special{i}>" for i in range(10)]


def build_tiny_xlm(directory: Path, *, seed: int = 0, num_layers: int = 2) -> Path:
    """Save a random tiny XLM encoder (``XLMModel``) with its slow BPE ``XLMTokenizer`` to ``directory``.

    The BPE vocabulary and merges (``</w>`` marks a word end, as in XLM's files) are learned here from
    the fixture corpus, lower-cased without accents as ``XLMTokenizer`` reads it; ids 0-3 are
    ``<s> </s> <pad> <unk>`` as in the released XLM vocabularies. Needs ``sacremoses``."""
    import json

    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import XLMConfig, XLMModel, XLMTokenizer

    torch.manual_seed(seed)
    bpe = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    bpe.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase()])
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    bpe.train_from_iterator(CORPUS * 3, trainers.BpeTrainer(vocab_size=300, special_tokens=XLM_SPECIALS,
                                                            end_of_word_suffix="</w>"))
    learned = json.loads(bpe.to_str())["model"]
    files = directory.parent / f"{directory.name}-bpe"
    files.mkdir(parents=True, exist_ok=True)
    (files / "vocab.json").write_text(json.dumps(learned["vocab"], ensure_ascii=False), encoding="utf-8")
    merges = [" ".join(m) if isinstance(m, list) else m for m in learned["merges"]]
    (files / "merges.txt").write_text("".join(f"{m} 1\n" for m in merges), encoding="utf-8")
    tokenizer = XLMTokenizer(str(files / "vocab.json"), str(files / "merges.txt"), model_max_length=64)
    config = XLMConfig(vocab_size=len(tokenizer), emb_dim=32, n_layers=num_layers, n_heads=2,
                       max_position_embeddings=64, n_langs=1, pad_index=tokenizer.pad_token_id,
                       unk_index=tokenizer.unk_token_id, bos_index=tokenizer.bos_token_id,
                       eos_index=tokenizer.eos_token_id)
    XLMModel(config).save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def _tiny_xlm_dir(tmp_path_factory) -> Path:
    pytest.importorskip("sacremoses", reason="XLMTokenizer needs sacremoses (pip install sacremoses)")
    return build_tiny_xlm(tmp_path_factory.mktemp("tiny-xlm") / "xlm")


@pytest.fixture
def tiny_xlm_dir(_tiny_xlm_dir, tmp_path) -> Path:
    """A per-test copy of a tiny random XLM encoder (XLMModel, slow BPE XLMTokenizer: no word_ids())."""
    dst = tmp_path / "xlm"
    shutil.copytree(_tiny_xlm_dir, dst)
    return dst
