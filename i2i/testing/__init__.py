"""Test kits plugin authors inherit: component and method conformance checks."""
