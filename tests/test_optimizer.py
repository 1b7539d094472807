"""The hand-written AdamW against torch.optim.AdamW."""
import copy

import pytest
import torch

from minbert import AdamW


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.GELU(), torch.nn.Linear(32, 4))


def _steps(model, opt, n, start=0):
    g = torch.Generator().manual_seed(start)
    for _ in range(n):
        x, y = torch.randn(8, 16, generator=g), torch.randn(8, 4, generator=g)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def _assert_same(a, b, atol=1e-6):
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, atol=atol, rtol=0)


@pytest.mark.parametrize("lr,wd,betas", [(1e-3, 0.01, (0.9, 0.999)), (5e-3, 0.1, (0.8, 0.99))])
def test_matches_torch_adamw(lr, wd, betas):
    ours, ref = _net(), _net()
    _steps(ours, AdamW(ours.parameters(), lr=lr, weight_decay=wd, betas=betas), 120)
    _steps(ref, torch.optim.AdamW(ref.parameters(), lr=lr, weight_decay=wd, betas=betas), 120)
    assert not torch.equal(ours[0].weight, _net()[0].weight)  # it really trained
    _assert_same(ours, ref)


def test_state_dict_round_trip_continues_identically():
    ours, ref = _net(), _net()
    o1 = AdamW(ours.parameters(), lr=1e-3, weight_decay=0.05)
    o2 = torch.optim.AdamW(ref.parameters(), lr=1e-3, weight_decay=0.05)
    _steps(ours, o1, 60)
    _steps(ref, o2, 60)
    saved_model, saved_opt = copy.deepcopy(ours.state_dict()), copy.deepcopy(o1.state_dict())
    resumed = _net()
    resumed.load_state_dict(saved_model)
    o3 = AdamW(resumed.parameters(), lr=1e-3, weight_decay=0.05)
    o3.load_state_dict(saved_opt)
    _steps(resumed, o3, 60, start=1)
    _steps(ref, o2, 60, start=1)
    _assert_same(resumed, ref)


def test_weight_decay_is_decoupled():
    p = torch.nn.Parameter(torch.ones(3))
    opt = AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = torch.zeros(3)  # zero gradient: only the decay acts
    opt.step()
    torch.testing.assert_close(p.detach(), torch.full((3,), 0.95))


def test_rejects_bad_hyperparameters():
    with pytest.raises(ValueError):
        AdamW([torch.nn.Parameter(torch.ones(1))], lr=-1)
