"""``train``: robust fine-tuning for zero-shot cross-lingual transfer (see :mod:`.core`); settings in
:mod:`.config`, task data in :mod:`.data`, the run folder in :mod:`.run_dir`, the steps of one run in
:mod:`.steps`, the typed results in :mod:`.result`."""

from xalign.pipelines.train.config import TrainConfig
from xalign.pipelines.train.core import train
from xalign.pipelines.train.result import EvalResult, Selection, TrainMetrics, TrainResult

__all__ = ["EvalResult", "Selection", "TrainConfig", "TrainMetrics", "TrainResult", "train"]
