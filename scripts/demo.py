"""`make demo`: run the whole pipeline on small synthetic data, under demo/ (git-ignored)."""
