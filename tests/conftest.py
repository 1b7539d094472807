"""Shared fixtures. Tests needing task data skip without it, except under CI=true, where they fail."""
import os

import pytest
import torch

from minbert import BertModel, Tokenizer
from minbert.data import find_data_dir
from minbert.pretrained import default_model_dir

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def data_dir():
    found = find_data_dir(required=False)
    if found is None:
        msg = "no task data: set MINBERT_DATA or run `python -m minbert.data fetch`"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (CI=true: data is required)")
        pytest.skip(msg)
    return found


@pytest.fixture(scope="session")
def model_dir():
    return default_model_dir()


@pytest.fixture(scope="session")
def base_model():
    return BertModel.from_pretrained()


@pytest.fixture(scope="session")
def tokenizer():
    return Tokenizer.from_pretrained()
