"""i2i plugin: stargan."""
