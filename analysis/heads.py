"""Deprecated alias, kept for one release: `python -m analysis.heads` is now `python -m analysis.head_importance`."""
import sys

from analysis.head_importance import main

if __name__ == "__main__":
    sys.exit(main())
