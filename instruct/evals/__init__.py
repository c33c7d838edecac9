"""Evaluation benchmarks and their metrics (BIG-Bench Hard, QA, generation)."""
