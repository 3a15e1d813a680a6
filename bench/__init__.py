"""Benchmarks: run one with `.venv/bin/python -m bench.<name>`; each prints what it measured in one run."""
