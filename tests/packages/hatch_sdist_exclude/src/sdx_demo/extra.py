"""Shipped in a wheel built from the tree; excluded from the sdist."""

EXTRA = "extra v1"
