"""Load benchmarks (``benchmarks/run.py``); nothing here is imported by the app."""
