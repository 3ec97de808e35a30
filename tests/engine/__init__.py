"""Specification tests for the step engine, written against the public API."""
