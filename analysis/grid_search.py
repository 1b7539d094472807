"""Deprecated alias, kept for one release: `python -m analysis.grid_search` is now `python -m analysis.experiments.grid_search`."""
import sys

from analysis.experiments.grid_search import main

if __name__ == "__main__":
    sys.exit(main())
