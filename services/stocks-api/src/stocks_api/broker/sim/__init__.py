"""Simulated broker: a deterministic in-memory market and matching engine."""
