"""cloudserve-toy: a small in-memory target from outside cloudserve."""
