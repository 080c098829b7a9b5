"""The networks, torch modules only: the autoencoder, the quantizers (scalar and
residual VQ) and the prior. They compute tensors; they never see bytes."""
