"""Training: one step, one loop, shared by `nasdsl train` and the search engines.

Public API (see docs/TRAINING.md):
  train_step, Precision, NonFiniteLoss        one optimisation step (step.py)
  fit, TrainConfig, Position, FitResult       the loop with checkpoints/resume (loop.py)
  SegLoss                                     Dice + CE with deep supervision (loss.py)
  validate, predict_case, InferShape          whole-case validation Dice (validate.py)
  BatchPlan, item_seed                        deterministic batches, DDP shards (batches.py)
  GenotypeNet, net_info, NetInfo              a compiled spec as a module (model.py)
  case_scores, mean_scores                    Dice/IoU/HD95/surface Dice (metrics.py)
"""

from nasdsl.train.batches import BatchPlan, BatchSource, PlannedBatches, item_seed
from nasdsl.train.loop import FitResult, Position, TrainConfig, TrainingStopped, fit
from nasdsl.train.loss import SegLoss
from nasdsl.train.metrics import case_scores, mean_scores
from nasdsl.train.model import GenotypeNet, NetInfo, net_info
from nasdsl.train.step import NonFiniteLoss, Precision, StepResult, train_step
from nasdsl.train.validate import InferShape, predict_case, validate

__all__ = ["BatchPlan", "BatchSource", "PlannedBatches", "item_seed", "FitResult",
           "Position", "TrainConfig", "TrainingStopped", "fit", "SegLoss", "case_scores",
           "mean_scores", "GenotypeNet", "NetInfo", "net_info", "NonFiniteLoss", "Precision",
           "StepResult", "train_step", "InferShape", "predict_case", "validate"]
