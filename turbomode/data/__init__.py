"""Market data: the universe, the sample market, sources (csv, yfinance, sample) and validation."""
