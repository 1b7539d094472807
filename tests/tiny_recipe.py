"""`--config` arguments for the tests' tiny training runs: the recipe fields without a flag, at test sizes."""
from pathlib import Path

TINY_RECIPE = ["--config", str(Path(__file__).with_name("tiny_recipe.yaml"))]
