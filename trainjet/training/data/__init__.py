"""Market data in (`ohlcv`: bars from CSV files) and the train/val/test arrays out (`prepare`)."""
