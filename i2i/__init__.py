"""i2i: image-to-image translation with GANs, every method a plugin."""

__version__ = "0.1.0"
