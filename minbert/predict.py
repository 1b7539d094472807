"""`python -m minbert.predict`: batch prediction for your own files (see minbert/serve/batch_predict.py)."""
import sys

from minbert.serve.batch_predict import main

if __name__ == "__main__":
    sys.exit(main())
