"""Bayesian scenario projections and target-attainment probabilities for Changzhi's plan targets."""
