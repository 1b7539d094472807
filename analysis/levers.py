"""Deprecated alias, kept for one release: `python -m analysis.levers` is now `python -m analysis.experiments.levers`."""
import sys

from analysis.experiments.levers import main

if __name__ == "__main__":
    sys.exit(main())
