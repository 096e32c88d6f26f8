"""Differential privacy: privacy-loss values, OpenDP mechanisms, partition selection, accuracy."""
