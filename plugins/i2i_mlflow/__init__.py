"""i2i plugin: an MLflow logger (``train.loggers = ["mlflow"]``).

Registered through the entry point ``mlflow = "i2i_mlflow.plugin"``; needs
``pip install 'i2i-translate[mlflow]'``. See :class:`i2i_mlflow.logger.MlflowLogger`.
"""

from i2i_mlflow.logger import MlflowLogger

__all__ = ["MlflowLogger"]
