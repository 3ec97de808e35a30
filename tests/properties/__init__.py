"""Hypothesis property tests: random workflow shapes against a model."""
