"""Tests of the simulated services: the request model and each service."""
