"""Classical motion: block search, warping and blending in integer arithmetic, and
the coding of motion fields as side information. Machine-independent."""
