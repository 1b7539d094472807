"""Analysis layer of the app: precomputed dev results, figures, ablation and grid search."""
