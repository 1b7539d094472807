"""Deprecated alias, kept for one release: `python -m analysis.learning_curve` is now `python -m analysis.experiments.learning_curve`."""
import sys

from analysis.experiments.learning_curve import main

if __name__ == "__main__":
    sys.exit(main())
