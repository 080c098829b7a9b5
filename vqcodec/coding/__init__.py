"""Integer arithmetic from probabilities to bytes: cdf tables, the range coder, the
prior's exact (fixed-point) arithmetic and tables per format version, rounding."""
