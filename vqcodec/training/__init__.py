"""Training: data, loops, checkpoints (models never import this package)."""
