"""`python -m minbert.evaluate`: score a checkpoint on the dev sets (see minbert/evaluate/__init__.py)."""
import sys

from minbert.evaluate import main

sys.exit(main())
