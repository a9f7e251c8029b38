"""One pass."""
