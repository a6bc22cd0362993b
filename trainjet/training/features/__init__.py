"""From bars to model inputs and targets: fuzzy memberships, lags, timeframe alignment, labels."""
