"""Soak test: customers for many minutes; nothing lost, no growth (python -m bench.soak)."""
