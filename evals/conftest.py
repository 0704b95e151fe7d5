"""Evals run with the `harness` pytest plugin (installed as a pytest11 entry point)."""
