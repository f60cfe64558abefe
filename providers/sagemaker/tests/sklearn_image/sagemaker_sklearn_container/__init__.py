"""Stand-in for the scikit-learn image's framework package (see serving.py)."""
