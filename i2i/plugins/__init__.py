"""The plugin system: hookspecs (every hook, typed), the host (a typed facade over pluggy), the
registry of typed records, and the core's own registrations (generic nets, losses, layouts),
made exactly as a third-party plugin makes them.
"""
