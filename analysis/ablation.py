"""Deprecated alias, kept for one release: `python -m analysis.ablation` is now `python -m analysis.experiments.ablation`."""
import sys

from analysis.experiments.ablation import main

if __name__ == "__main__":
    sys.exit(main())
