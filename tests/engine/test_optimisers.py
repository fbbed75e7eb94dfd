"""nst.engine.optimisers: building the optimiser from the settings, one step of each, diagnostics."""
import pytest
import torch

from nst.engine.lbfgs import LBFGS
from nst.engine.losses import LossTerms
from nst.engine.optimisers import effective_learning_rates, lipschitz_estimate, make_optimizer, optimisation_step
from nst.engine.settings import Settings


def test_effective_learning_rate_after_one_adam_step():
    x = torch.zeros(3, requires_grad=True)
    opt = torch.optim.Adam([x], lr=0.01, betas=(0.9, 0.999), eps=1e-7)
    (x * torch.tensor([2.0, -4.0, 0.5])).sum().backward()
    opt.step()
    # after one step v_hat = g^2, so lr_eff = lr / (|g| + eps)
    low, mean, high = effective_learning_rates(x, opt)
    expected = [0.01 / (g + 1e-7) for g in (2.0, 4.0, 0.5)]
    assert low == pytest.approx(min(expected))
    assert high == pytest.approx(max(expected))
    assert mean == pytest.approx(sum(expected) / 3)


def test_lipschitz_power_iteration_on_a_known_quadratic():
    curvature = torch.tensor([1.0, 7.0, 3.0, 0.5]).view(1, 1, 2, 2)

    def quadratic(x):
        total = 0.5 * (curvature * x.square()).sum()
        return LossTerms(total, total, total, total)

    estimate = lipschitz_estimate(torch.rand(1, 1, 2, 2), quadratic, iterations=60, seed=3)
    assert estimate == pytest.approx(7.0, rel=1e-3)


def test_lbfgs_is_ours_and_takes_its_options_from_the_settings():
    image = torch.zeros(1, 1, 2, 2, requires_grad=True)
    settings = Settings(optimizer="lbfgs", lbfgs_history=4, lbfgs_max_step=0.2, lbfgs_line_search="strong_wolfe")
    optimizer = make_optimizer(image, settings)
    assert type(optimizer) is LBFGS
    group = optimizer.param_groups[0]
    assert (group["history_size"], group["max_step"], group["line_search"], group["bounds"]) == (
        4, 0.2, "strong_wolfe", (0.0, 1.0))
    plain = make_optimizer(image, Settings(optimizer="lbfgs", lbfgs_line_search="none"))
    assert plain.param_groups[0]["line_search"] is None
    assert isinstance(make_optimizer(image, Settings(optimizer="adam")), torch.optim.Adam)


def squared_distance(target):
    def loss(x):
        total = (x - target).square().sum()
        return LossTerms(total * 0.5, total * 0.25, total * 0.25, total)

    return loss


def test_adam_step_evaluates_once_and_clamps_to_the_box():
    target = torch.tensor([2.0, -1.0]).view(1, 1, 1, 2)
    image = torch.tensor([0.995, 0.005]).view(1, 1, 1, 2).requires_grad_(True)
    optimizer = make_optimizer(image, Settings(optimizer="adam", adam_learning_rate=0.01))
    calls = []
    terms = optimisation_step(image, optimizer, lambda x: calls.append(1) or squared_distance(target)(x))
    assert len(calls) == 1
    assert terms.total.item() == pytest.approx(1.005**2 + 1.005**2)
    assert terms.content.item() == pytest.approx(terms.total.item() / 2)
    # Adam's first step moves every pixel by lr towards its target: 1.005 and -0.005, clamped
    assert image.detach().flatten().tolist() == [1.0, 0.0]


@pytest.mark.parametrize("line_search", ["none", "strong_wolfe"])
def test_lbfgs_step_returns_the_terms_where_it_started(line_search):
    target = torch.tensor([0.9, 0.2, 0.6, 0.4]).view(1, 1, 2, 2)
    image = torch.full((1, 1, 2, 2), 0.5, requires_grad=True)
    optimizer = make_optimizer(image, Settings(optimizer="lbfgs", lbfgs_line_search=line_search))
    objective = squared_distance(target)
    for _ in range(4):
        expected = objective(image.detach()).total.item()
        terms = optimisation_step(image, optimizer, objective)
        assert terms.total.item() == expected  # the first evaluation, not a line-search trial
    assert torch.allclose(image.detach(), target, atol=1e-5)
