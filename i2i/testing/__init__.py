"""Test kits plugin authors inherit: component and method conformance checks.

``i2i.testing.components`` checks generators and discriminators; the method suite is
re-exported here (``from i2i.testing import MethodConformance``), see :mod:`i2i.testing.methods`.
"""

from i2i.testing.methods import (
    CHECKS,
    CheckingContext,
    ConformanceError,
    MethodCase,
    MethodConformance,
    check_bf16_autocast,
    check_builds,
    check_checkpoint_round_trip,
    check_learns,
    check_seed_determinism,
    check_train_steps,
    check_translate_shapes,
    default_data_info,
    dummy_batch,
    make_context,
    odd_sizes,
    pick_learn_key,
    run_method_checks,
    run_steps,
    smooth_images,
)

__all__ = [
    "CHECKS",
    "CheckingContext",
    "ConformanceError",
    "MethodCase",
    "MethodConformance",
    "check_bf16_autocast",
    "check_builds",
    "check_checkpoint_round_trip",
    "check_learns",
    "check_seed_determinism",
    "check_train_steps",
    "check_translate_shapes",
    "default_data_info",
    "dummy_batch",
    "make_context",
    "odd_sizes",
    "pick_learn_key",
    "run_method_checks",
    "run_steps",
    "smooth_images",
]
