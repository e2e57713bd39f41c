"""Labeling tools: what to read next, the frozen test set, Label Studio, suspects, learning curves."""
