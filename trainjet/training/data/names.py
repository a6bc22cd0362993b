"""What a symbol and a timeframe may be called: the one rule for request fields, strategy files
and `SYMBOL_TIMEFRAME.csv` names. Kept free of pandas so the API can check names without it."""

from __future__ import annotations

import re

# Same shapes as ktrdr's loader; they also keep symbols and timeframes from naming other paths.
SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,19}$")
TIMEFRAME_RE = re.compile(r"^[0-9]+[mhdwM]$")
