"""sensorium.models.rle: Residual Log-likelihood Estimation (Li et al., ICCV 2021, arXiv 2107.11291).

A regression head predicts (mu, sigma) per coordinate; during training a RealNVP flow learns the
density of the normalised residual (x - mu) / sigma and the loss is that residual's negative
log-likelihood. The flow lives in the loss, not the head, so the exported head costs nothing
extra and still gives every coordinate its own scale sigma.
"""
