"""``probe``: alignment metrics on every layer of one encoder (see :mod:`.core`); settings in :mod:`.config`,
inputs in :mod:`.inputs`, the metric extension point in :mod:`.steps` (built-ins in :mod:`.builtin`), the
many-language probe in :mod:`.many`, the run folder in :mod:`.run_dir`."""

from xalign.pipelines.probe.config import ALIGN_METHODS, POOLINGS, PRESET_NAMES, RETRIEVAL_METHODS, ProbeConfig
from xalign.pipelines.probe.core import load_corpora, probe, probe_pair
from xalign.pipelines.probe.result import PairResult, ProbeResult
from xalign.pipelines.probe.steps import Metric, PairContext, StepOutput, register_metric, registered

__all__ = ["ALIGN_METHODS", "POOLINGS", "PRESET_NAMES", "RETRIEVAL_METHODS", "Metric", "PairContext", "PairResult",
           "ProbeConfig", "ProbeResult", "StepOutput", "load_corpora", "probe", "probe_pair", "register_metric",
           "registered"]
