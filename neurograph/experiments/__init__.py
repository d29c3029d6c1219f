"""Experiment scripts that produce the tables in docs/."""
