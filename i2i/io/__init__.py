"""Files i2i writes and reads: atomic writes, image files, output folders and the checkpoint format.

Everything here is used by several layers (training, inference, import-weights, the conformance
suite), so it sits below all of them: it imports records and config classes (a checkpoint stores
a run config and rebuilds a method through the plugin host) but never an engine such as the
trainer, the translator or the evaluator (``tests/test_architecture.py``).
"""
