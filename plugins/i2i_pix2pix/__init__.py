"""i2i plugin: pix2pix."""
