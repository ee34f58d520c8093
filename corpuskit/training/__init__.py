"""The trainer interface: training configs, the corpus split, and how runs are launched.

Trainer plugins (entry point group `corpuskit.trainers`) subclass `Trainer` and
`TrainerConfig`; see base.py. Nothing in this package imports torch.
"""

from corpuskit.training.base import Trainer, get_trainer, load_train_config, validate_config
from corpuskit.training.config import (
    PairedConfig,
    TrainConfigError,
    TrainerConfig,
    parse_overrides,
)
from corpuskit.training.data import CorpusData
from corpuskit.training.split import SPLITS, SplitConfig, assign_split

__all__ = [
    "SPLITS",
    "CorpusData",
    "PairedConfig",
    "SplitConfig",
    "TrainConfigError",
    "Trainer",
    "TrainerConfig",
    "assign_split",
    "get_trainer",
    "load_train_config",
    "parse_overrides",
    "validate_config",
]
