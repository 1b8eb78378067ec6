"""i2i plugin: StarGAN v2 (Choi et al., CVPR 2020), diverse multi-domain translation.

``plugin`` registers the method and its reference-weight importer; ``method.StarGANv2`` and
``config.StarGANv2Config`` are the classes, ``nets`` the four networks (generator, mapping
network, style encoder, multi-task discriminator), ``references`` how a batch supplies the
reference images of the reference-guided steps, ``weights`` the importer of clovaai/stargan-v2
checkpoints.
"""
