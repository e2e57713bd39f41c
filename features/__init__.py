"""Text → vectors: corpus readers, paragraph segmentation, Arabic normalization, the vectorizer."""
