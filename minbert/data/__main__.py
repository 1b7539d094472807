"""`python -m minbert.data fetch`: download and verify the task files (see minbert/data/fetch.py)."""
import sys

from minbert.data import main

sys.exit(main())
