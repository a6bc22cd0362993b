"""Technical indicators: the registry by ktrdr name, its table, parameter specs and formulas."""
