"""Runners: take start commands of a pool, run the work, emit its events."""
