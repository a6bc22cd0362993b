"""Strategy files: lookup by name, defaults, validation and the frozen `StrategyConfig`."""
