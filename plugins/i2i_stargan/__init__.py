"""i2i plugin: StarGAN (Choi et al. 2018), multi-domain translation with one generator.

``plugin`` registers the method; ``method.StarGAN`` and ``config.StarGANConfig`` are the
classes, ``targets`` turns target names into label vectors.
"""
