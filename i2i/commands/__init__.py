"""Sub-commands of ``i2i`` that live in their own modules (translate, eval, export, import-weights)."""
