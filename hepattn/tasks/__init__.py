"""Task definitions: what the training loop, evaluation and prediction need per task."""
