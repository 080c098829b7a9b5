"""What `vqcodec bench` runs: x264/x265 anchors, RD sweeps, BD-rate, reports."""
