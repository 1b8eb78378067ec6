"""Files i2i writes and reads: atomic writes, image files, output folders and the checkpoint format.

Everything here is used by several layers (training, inference, import-weights, the conformance
suite), so it sits below all of them and imports none of them.
"""
