"""Defuse evaluators: rubric data, judges and the session report."""
