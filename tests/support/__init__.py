"""Helpers shared by the tests: reference problems, spec builders, fuzz inputs, paths."""
