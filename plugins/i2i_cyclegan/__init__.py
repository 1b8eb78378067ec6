"""i2i plugin: cyclegan."""
