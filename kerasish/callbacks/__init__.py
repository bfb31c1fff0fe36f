"""Keras-compatible callbacks: subclass ``Callback`` and pass instances to ``fit``."""

from kerasish.callbacks.backup_and_restore import BackupAndRestore
from kerasish.callbacks.base import Callback, CallbackList
from kerasish.callbacks.csv_logger import CSVLogger
from kerasish.callbacks.early_stopping import EarlyStopping
from kerasish.callbacks.history import History
from kerasish.callbacks.keras_callback import KerasCallback
from kerasish.callbacks.lambda_callback import LambdaCallback
from kerasish.callbacks.learning_rate_scheduler import LearningRateScheduler
from kerasish.callbacks.loop_timer import LoopTimer
from kerasish.callbacks.model_checkpoint import ModelCheckpoint
from kerasish.callbacks.monitor_callback import MonitorCallback
from kerasish.callbacks.prediction_samples import PredictionSamples
from kerasish.callbacks.progbar import ProgbarLogger
from kerasish.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from kerasish.callbacks.swap_ema_weights import SwapEMAWeights
from kerasish.callbacks.tensorboard import TensorBoard, TensorBoardCallback
from kerasish.callbacks.terminate_on_nan import TerminateOnNaN
from kerasish.callbacks.wandb import WandbCallback
from kerasish.callbacks.wandb_metrics_logger import WandbMetricsLogger
from kerasish.callbacks.wandb_model_checkpoint import WandbModelCheckpoint

__all__ = ["BackupAndRestore", "CSVLogger", "EarlyStopping", "KerasCallback", "LambdaCallback",
           "LearningRateScheduler", "ModelCheckpoint", "MonitorCallback", "PredictionSamples",
           "ReduceLROnPlateau", "SwapEMAWeights", "TerminateOnNaN",
           "Callback", "CallbackList", "History", "LoopTimer", "ProgbarLogger",
           "TensorBoard", "TensorBoardCallback", "WandbCallback", "WandbMetricsLogger",
           "WandbModelCheckpoint"]
