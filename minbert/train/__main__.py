"""`python -m minbert.train`: the training command (see minbert/train/loop.py)."""
import sys

from minbert.train.loop import main

sys.exit(main())
