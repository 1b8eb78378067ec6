"""Run configs: the typed config classes and TOML I/O (:mod:`~i2i.config.run`), the value rules
(:mod:`~i2i.config.validation`), the generated reference (:mod:`~i2i.config.docs`) and the
conversion of the reference code's options (:mod:`~i2i.config.reference_names`,
:mod:`~i2i.config.from_reference`).

The package imports nothing itself, so the config classes of every layer (data, train, methods)
can use the validation rules without an import cycle.
"""
