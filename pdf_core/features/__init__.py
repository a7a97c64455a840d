"""Feature precomputation: the uint8 image store, token ids, and frozen-encoder features."""
