"""Video in and out (PyAV, YUV4MPEG2 pipes), the bundled sample clips, and metrics."""
