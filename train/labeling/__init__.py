"""Labeling tools: what to read next, the frozen test set, Label Studio, suspects, learning curves."""

# The queue's default mix (``labels queue``): shares drawn at random, by model uncertainty and from the
# model's confusable calls; keyword candidates fill the rest. Here, so the CLI reads them without loading
# the queue's dependencies.
RANDOM_SHARE, UNCERTAIN_SHARE, HARD_SHARE = 0.3, 0.3, 0.0
