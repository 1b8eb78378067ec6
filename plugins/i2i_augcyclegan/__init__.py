"""i2i plugin: augcyclegan."""
