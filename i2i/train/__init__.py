"""Training: the loop, precision, distribution, checkpoints, logging and the run report.

``Trainer`` lives in :mod:`i2i.train.trainer`; it is imported lazily (``i2i.Trainer``) so
that reading a config does not import the training stack.
"""
