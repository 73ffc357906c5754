"""Resolved, immutable IR shared by every backend."""
