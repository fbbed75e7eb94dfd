"""Our L-BFGS (nst.engine.lbfgs): the recursion, the box, the cap, roll-back, line search, exact resume.

Most tests drive the optimiser with a scripted closure: evaluation k returns a chosen loss
and a chosen gradient, so every point, pair and step length below is computed by hand.
"""
import io
import math
from pathlib import Path

import pytest
import torch

from nst.engine.lbfgs import (LBFGS, carried_h0, largest_step_length, measured_curvature, project_gradient,
                              two_loop)
from nst.engine.losses import LossTerms
from nst.engine.optimisers import make_optimizer, optimisation_step
from nst.engine.settings import Settings

STATE_KEYS = {"step", "evals", "rollbacks", "restarts", "x", "grad", "loss", "s", "y", "rho", "h_diag",
              "restart", "fresh", "descent_scale", "trials", "measured_h_diag"}


def scripted(image, script):
    """A closure whose k-th call returns loss script[k][0] with gradient script[k][1], wherever the image is."""
    calls = iter(script)

    def closure():
        loss, grad = next(calls)
        image.grad = None
        linear = (image * torch.tensor(grad, dtype=image.dtype).view_as(image)).sum()
        total = linear - linear.detach() + loss
        total.backward()
        return total

    return closure


def pixels(*values):
    return torch.tensor(values).view(1, 1, 1, len(values))


def flat(image):
    return image.detach().flatten()


# ---- the two-loop recursion ---------------------------------------------------------------

def test_two_loop_on_a_diagonal_quadratic_by_hand():
    # f = x1² + 1.5 x2² (Hessian diag(2, 3)); steps along the axes give y = A s.
    s = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])]
    y = [torch.tensor([2.0, 0.0]), torch.tensor([0.0, 3.0])]
    rho = [1 / 2, 1 / 3]
    # H0 = (s·y / y·y of the newest pair) I = I/3; the first update makes H = diag(1/2, 1/3),
    # which the second keeps: the exact inverse Hessian. -H g for g = (4, 9) is (-2, -3).
    direction = two_loop(torch.tensor([4.0, 9.0]), s, y, rho, h_diag=1 / 3)
    assert torch.allclose(direction, torch.tensor([-2.0, -3.0]))


def test_two_loop_equals_the_explicit_inverse_hessian_product():
    generator = torch.Generator().manual_seed(0)
    n, pairs = 5, 3
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    hessian = a @ a.T + n * torch.eye(n, dtype=torch.float64)  # positive definite, so s·y > 0
    s = [torch.randn(n, generator=generator, dtype=torch.float64) for _ in range(pairs)]
    y = [hessian @ step for step in s]
    rho = [1 / float(si @ yi) for si, yi in zip(s, y)]
    h_diag = float(s[-1] @ y[-1] / (y[-1] @ y[-1]))
    inverse = h_diag * torch.eye(n, dtype=torch.float64)
    for si, yi, r in zip(s, y, rho):  # BFGS: H <- (I - r s yᵀ) H (I - r y sᵀ) + r s sᵀ
        left = torch.eye(n, dtype=torch.float64) - r * torch.outer(si, yi)
        inverse = left @ inverse @ left.T + r * torch.outer(si, si)
    grad = torch.randn(n, generator=generator, dtype=torch.float64)
    assert torch.allclose(two_loop(grad, s, y, rho, h_diag), -inverse @ grad, rtol=1e-12, atol=1e-12)
    assert torch.allclose(inverse @ y[-1], s[-1])  # the secant condition holds for the newest pair


def test_a_direction_that_is_not_descent_restarts_with_steepest_descent():
    image = torch.full((1, 1, 1, 4), 0.5, requires_grad=True)
    optimizer = LBFGS([image], max_step=0.0)
    g = [-0.25, 0.0, 0.0, 0.0]
    step = scripted(image, [(10.0, g), (9.0, g)])
    optimizer.step(step)  # steepest descent, t = min(1, 1/0.25) = 1: x1 = (0.75, 0.5, 0.5, 0.5)
    state = optimizer.state[image]
    assert state["s"] == []  # y = g1 - g0 = 0: no pair
    # An inverse-Hessian estimate that is not positive definite: H = diag(-1, 1, 1, 1).
    state.update(s=[torch.tensor([1.0, 0, 0, 0])], y=[torch.tensor([-1.0, 0, 0, 0])], rho=[-1.0], h_diag=1.0)
    assert torch.equal(two_loop(torch.tensor(g), state["s"], state["y"], state["rho"], 1.0),
                       torch.tensor([-0.25, 0, 0, 0]))  # g·d = +1/16: uphill
    optimizer.step(step)
    assert state["restarts"] == 1 and state["s"] == [] and state["fresh"]
    assert torch.equal(flat(image), torch.tensor([1.0, 0.5, 0.5, 0.5]))  # 0.75 + 0.25, downhill


def test_a_rejected_pair_on_an_empty_memory_takes_the_unscaled_step_cut_by_the_cap():
    image = torch.full((1, 1, 1, 4), 0.6, requires_grad=True)
    optimizer = LBFGS([image], max_step=0.3)
    g0 = [0.5, -0.5, 0.5, 0.5]
    g1 = [0.6, -0.6, 0.6, 0.6]  # s = -g0/2, y = g1 - g0 = g0/5: s·y < 0, the pair is dropped
    closure = scripted(image, [(10.0, g0), (9.0, g1)])
    optimizer.step(closure)  # fresh start: t = min(1, 1/|g0|_1) = 1/2
    x1 = torch.tensor([0.35, 0.85, 0.35, 0.35])
    assert torch.allclose(flat(image), x1)
    optimizer.step(closure)
    state = optimizer.state[image]
    assert state["s"] == [] and not state["fresh"] and state["restarts"] == 0
    # H0 = I, t = 1 (as torch): x1 - g1 clamps to (0, 1, 0, 0), a change of (-0.35, 0.15, -0.35, -0.35),
    # which the cap shrinks by 0.3/0.35 (a fresh start's t = 1/|g1|_1 would have moved 0.25)
    assert torch.allclose(flat(image), x1 + torch.tensor([-0.35, 0.15, -0.35, -0.35]) * (0.3 / 0.35))


# ---- the box ----------------------------------------------------------------------------

def bowl(image, centre, curvature):
    """A closure for f = curvature / 2 |x - centre|^2 (Hessian: curvature * I)."""
    def closure():
        image.grad = None
        loss = 0.5 * curvature * (image.flatten() - centre).square().sum()
        loss.backward()
        return loss

    return closure


def test_a_carried_h0_makes_the_first_step_quasi_newton():
    # f = 2 |x - c|^2 (gradient 4 (x - c)): with h0 = 1/4 the first step lands on c exactly;
    # without, it is steepest descent of length 1/|g|_1.
    c = torch.tensor([0.6, 0.3, 0.5])
    for h0, expected in ((0.25, c), (None, None)):
        image = pixels(0.2, 0.4, 0.5).requires_grad_(True)
        optimizer = LBFGS([image], h0=h0)
        optimizer.step(bowl(image, c, 4.0))
        g = 4 * (torch.tensor([0.2, 0.4, 0.5]) - c)
        expected = expected if expected is not None else torch.tensor([0.2, 0.4, 0.5]) - g / g.abs().sum()
        assert torch.allclose(flat(image), expected, atol=1e-6), h0


def test_carried_h0_is_the_newest_measured_scale_even_after_a_restart():
    # f = |x - c|^2 / 2 on two pixels: every pair has y = s, so s.y / y.y = 1 exactly.
    c = torch.tensor([0.6, 0.3])
    image = pixels(0.2, 0.4).requires_grad_(True)
    optimizer = LBFGS([image])
    closure = bowl(image, c, 1.0)
    optimizer.step(closure)
    assert carried_h0(optimizer) is None  # one point, no pair yet
    optimizer.step(closure)
    assert carried_h0(optimizer) == pytest.approx(1.0)
    state = optimizer.state[image]
    LBFGS._forget(state)  # a roll-back clears the pairs; the measurement stays
    assert state["s"] == [] and carried_h0(optimizer) == pytest.approx(1.0)
    assert measured_curvature(optimizer.state_dict()["state"][0]) == pytest.approx(1.0)  # from a checkpoint
    assert measured_curvature({"h_diag": 0.5, "s": [torch.ones(2)]}) == 0.5  # one from before the key
    assert measured_curvature({"exp_avg": torch.ones(2)}) is None  # Adam's
    assert carried_h0(torch.optim.Adam([image])) is None
    with pytest.raises(ValueError, match="h0 must be positive"):
        LBFGS([image], h0=0.0)


def test_gradient_is_projected_at_the_bounds():
    x = torch.tensor([0.0, 1.0, 0.5, 0.0, 1.0])
    grad = torch.tensor([1.0, -1.0, 2.0, -1.0, 3.0])
    # at 0 a positive gradient (descent would go below 0) is blocked; at 1 a negative one.
    assert torch.equal(project_gradient(x, grad.clone(), 0.0, 1.0), torch.tensor([0.0, 0.0, 2.0, -1.0, 3.0]))


def test_a_step_uses_the_projected_gradient_and_clamps_to_the_box():
    image = pixels(0.0, 1.0, 0.5, 0.0).requires_grad_(True)
    optimizer = LBFGS([image], max_step=0.0)
    returned = optimizer.step(scripted(image, [(5.0, [1.0, -1.0, 2.0, -1.0])]))
    state = optimizer.state[image]
    assert float(returned.detach()) == 5.0 and state["loss"] == 5.0
    assert torch.equal(state["grad"], torch.tensor([0.0, 0.0, 2.0, -1.0]))
    # steepest descent with t = min(1, 1/|g|_1) = 1/3 on the projected gradient; 0.5 - 2/3 clamps to 0
    assert torch.allclose(flat(image), torch.tensor([0.0, 1.0, 0.0, 1 / 3]))


def test_curvature_pairs_describe_the_clipped_step():
    target = torch.tensor([2.0, 0.5, -1.0, 0.25]).view(1, 1, 2, 2)  # two minima lie outside [0, 1]

    def quadratic():
        optimizer.zero_grad()
        total = (image - target).square().sum()
        total.backward()
        return total

    image = torch.full((1, 1, 2, 2), 0.5, requires_grad=True)
    optimizer = LBFGS([image], max_step=0.0)
    g0 = torch.tensor([-3.0, 0.0, 3.0, 0.5])  # 2 (x - target)
    x1 = 0.5 - g0 / 6.5  # steepest descent, t = 1/|g0|_1
    optimizer.step(quadratic)
    assert torch.allclose(flat(image), x1)

    optimizer.step(quadratic)
    state = optimizer.state[image]
    g1 = 2 * (x1 - target.flatten())
    assert torch.allclose(state["s"][0], x1 - 0.5) and torch.allclose(state["y"][0], g1 - g0)
    assert state["h_diag"] == pytest.approx(0.5)  # y = 2 s: the exact inverse curvature
    # the Newton step x1 - g1/2 lands on the unconstrained minimum; the clamp takes it to the box's
    x2 = torch.tensor([1.0, 0.5, 0.0, 0.25])
    assert torch.allclose(flat(image), x2, atol=1e-6)

    optimizer.step(quadratic)
    # the newest pair is the clipped step x2 - x1, not the proposed one -g1/2; at x2 the
    # projected gradient is zero (both blocked pixels push outwards), so y = -g1
    assert torch.allclose(state["s"][-1], x2 - x1, atol=1e-6)
    assert not torch.allclose(state["s"][-1], -g1 / 2, atol=1e-3)
    assert torch.allclose(state["y"][-1], -g1, atol=1e-5)
    assert torch.equal(state["grad"], torch.zeros(4))
    assert torch.allclose(flat(image), x2, atol=1e-6)  # a stationary point: the image stays


# ---- the cap ----------------------------------------------------------------------------

@pytest.mark.parametrize("start, grad, expected_step", [
    ([0.5, 0.5, 0.5], [-0.48, 0.24, -0.12], [0.3, -0.15, 0.075]),  # proposed (0.48, -0.24, 0.12): x 0.625
    ([0.5, 0.5, 0.5], [-0.6, 0.2, -0.1], [0.3, -0.12, 0.06]),  # clamped to (0.5, -0.2, 0.1) first, then x 0.6
    ([0.5, 0.5, 0.5], [-0.2, 0.1, 0.0], [0.2, -0.1, 0.0]),  # within the cap: unchanged
])
def test_step_cap_keeps_direction_and_limits_the_largest_pixel_change(start, grad, expected_step):
    # |g|_1 <= 1, so the steepest-descent step length is 1 and the proposed step is -g
    image = pixels(*start).requires_grad_(True)
    optimizer = LBFGS([image], max_step=0.3)
    optimizer.step(scripted(image, [(1.0, grad)]))
    assert torch.allclose(flat(image) - torch.tensor(start), torch.tensor(expected_step), atol=1e-6)


def test_largest_step_length_for_the_cap():
    x, d = torch.tensor([0.1, 0.5, 0.95]), torch.tensor([1.0, -2.0, 4.0])
    # pixel 2 is 0.05 from the bound it heads for, so the clamp stops it first; pixel 1 reaches
    # 0.3 at t = 0.3/2
    assert largest_step_length(x, d, 0.3, 0.0, 1.0) == pytest.approx(0.15)
    assert largest_step_length(x, d, 0.0, 0.0, 1.0) == math.inf
    assert largest_step_length(torch.tensor([0.9]), torch.tensor([1.0]), 0.3, 0.0, 1.0) == math.inf


# ---- roll-back ----------------------------------------------------------------------------

def test_overshoot_returns_to_the_best_point_with_fresh_memory():
    image = torch.full((1, 1, 1, 4), 0.5, requires_grad=True)
    optimizer = LBFGS([image], max_step=0.0)
    g0 = [0.25, -0.25, 0.25, 0.25]
    g1 = [0.125, -0.125, 0.125, 0.125]
    g3 = [0.0625, -0.0625, 0.0625, 0.0625]
    closure = scripted(image, [(10.0, g0), (8.0, g1), (12.0, [1.0, 1.0, 1.0, 1.0]), (7.0, g3)])
    x0, x1 = torch.full((4,), 0.5), torch.tensor([0.25, 0.75, 0.25, 0.25])

    optimizer.step(closure)  # steepest descent, t = min(1, 1/|g0|_1) = 1
    state = optimizer.state[image]
    assert torch.equal(flat(image), x1) and state["loss"] == 10.0

    optimizer.step(closure)  # better: accepted; pair s = x1 - x0, y = g1 - g0, s·y = 1/8
    assert state["loss"] == 8.0 and torch.equal(state["x"], x1)
    assert torch.equal(state["s"][0], x1 - x0) and torch.equal(state["y"][0], torch.tensor(g1) - torch.tensor(g0))
    assert state["rho"] == [8.0] and state["h_diag"] == 2.0
    # g1 = -y, and H y = s: the L-BFGS step is s again, to (0, 1, 0, 0)
    assert torch.equal(flat(image), torch.tensor([0.0, 1.0, 0.0, 0.0]))

    returned = optimizer.step(closure)  # 12 > 8: back to x1, fresh memory, steepest descent from there
    assert float(returned.detach()) == 12.0  # the loss where this step started
    assert state["rollbacks"] == 1 and state["restarts"] == 1 and state["s"] == []
    assert state["loss"] == 8.0 and torch.equal(state["x"], x1) and torch.equal(state["grad"], torch.tensor(g1))
    # no re-evaluation of x1: its gradient was kept. t = min(1, 1/|g1|_1) = 1
    assert state["evals"] == 3
    x3 = torch.tensor([0.125, 0.875, 0.125, 0.125])
    assert torch.equal(flat(image), x3)

    optimizer.step(closure)  # better: accepted; the pair is the step taken from the restored point
    assert state["loss"] == 7.0 and torch.equal(state["x"], x3)
    assert torch.equal(state["s"][0], x3 - x1) and state["rollbacks"] == 1


def test_a_rolled_back_steepest_step_backtracks_instead_of_repeating():
    image = torch.full((1, 1, 1, 4), 0.5, requires_grad=True)
    optimizer = LBFGS([image], max_step=0.0)
    g0 = [0.25, -0.25, 0.25, 0.25]
    closure = scripted(image, [(10.0, g0), (10.25, [0.0] * 4), (9.0, g0)])
    optimizer.step(closure)  # to x0 - g0 = (0.25, 0.75, 0.25, 0.25)
    optimizer.step(closure)  # worse, and it was a fresh start already (steepest descent): shrink it
    state = optimizer.state[image]
    # parabola through phi(0) = 10, phi'(0) = g0·(x1 - x0) = -1/4, phi(1) = 10.25: minimum at 1/4
    assert state["descent_scale"] == pytest.approx(0.25)
    assert torch.allclose(flat(image), 0.5 - 0.25 * torch.tensor(g0))
    optimizer.step(closure)  # lower than 10: the scale is back to 1
    assert state["descent_scale"] == 1.0


# ---- strong-Wolfe line search -------------------------------------------------------------

def soft_valley(target):
    def loss(x):  # flat far from the target: the first curvature guess is far too small
        total = torch.log(torch.cosh(20 * (x - target))).sum()
        return LossTerms(total, total, total, total)

    return loss


def test_strong_wolfe_recovers_from_a_rejected_trial_step():
    target = torch.tensor([0.8, 0.7, 0.6, 0.75]).view(1, 1, 2, 2)
    image = torch.full((1, 1, 2, 2), 0.1, requires_grad=True)
    optimizer = make_optimizer(image, Settings(optimizer="lbfgs", lbfgs_line_search="strong_wolfe"))
    objective = soft_valley(target)
    evaluated = []

    def recording(x):
        terms = objective(x)
        evaluated.append(float(terms.total.detach()))
        return terms

    steps = []  # the losses evaluated by each step, the first one where it started
    for _ in range(8):
        before = len(evaluated)
        start = float(optimisation_step(image, optimizer, recording).total.detach())
        steps.append(evaluated[before:])
        assert start == steps[-1][0]
    # some step's first trial was higher than where it started (rejected, e.g. 2.25 -> 8.29);
    # its search went on, and every step started lower than the one before: never frozen
    assert any(trials[1] > trials[0] for trials in steps)
    starts = [trials[0] for trials in steps]
    assert all(later < earlier for earlier, later in zip(starts, starts[1:]))
    # torch's LBFGS with its default evaluation budget had no trial left after rejecting
    # t = 1, returned t = 0, and the image froze at 0.35 for good.
    assert torch.allclose(image.detach(), target, atol=1e-3)


def test_strong_wolfe_step_satisfies_both_conditions():
    centre = torch.tensor([0.6, 0.4, 0.55, 0.45], dtype=torch.float64)
    weight = torch.tensor([1.0, 4.0, 2.0, 3.0], dtype=torch.float64)

    def value_and_grad(x):
        return float((weight * (x - centre).square()).sum()), 2 * weight * (x - centre)

    def quadratic():
        optimizer.zero_grad()
        total = (weight * (image.flatten() - centre).square()).sum()
        total.backward()
        return total

    image = torch.full((1, 1, 2, 2), 0.5, dtype=torch.float64, requires_grad=True)
    optimizer = LBFGS([image], line_search="strong_wolfe")
    x0 = flat(image).clone()
    f0, g0 = value_and_grad(x0)
    optimizer.step(quadratic)
    x1 = flat(image)
    t = float((x1 - x0)[0] / -g0[0])  # steepest descent: d = -g0
    assert torch.allclose(x1, x0 - t * g0)
    f1, g1 = value_and_grad(x1)
    slope0, slope1 = float(g0 @ -g0), float(g1 @ -g0)
    assert f1 <= f0 + 1e-4 * t * slope0  # sufficient decrease
    assert abs(slope1) <= 0.9 * abs(slope0)  # strong curvature condition
    assert optimizer.state[image]["trials"] >= 2  # t = 1/|g0|_1 was too short: it extrapolated


def test_line_search_honours_the_cap_at_every_trial():
    target = torch.tensor([0.9, 0.05, 0.6, 0.75]).view(1, 1, 2, 2)
    image = torch.full((1, 1, 2, 2), 0.5, requires_grad=True)
    optimizer = LBFGS([image], max_step=0.1, line_search="strong_wolfe")
    objective = soft_valley(target)
    for _ in range(6):
        start = flat(image).clone()
        trials = []

        def closure():
            trials.append(flat(image).clone())
            optimizer.zero_grad()
            total = objective(image).total
            total.backward()
            return total

        optimizer.step(closure)
        assert all((point - start).abs().max() <= 0.1 + 1e-6 for point in trials + [flat(image)])
        assert all(point.min() >= 0 and point.max() <= 1 for point in trials)


def test_failed_line_search_keeps_the_image_restarts_and_does_not_freeze():
    image = torch.full((1, 1, 1, 4), 0.5, requires_grad=True)
    optimizer = LBFGS([image], line_search="strong_wolfe", max_trials=3)
    g0 = [0.25, -0.25, 0.25, 0.25]
    # step 1: every trial point is worse; step 2: the first trial is lower and flat (Wolfe)
    closure = scripted(image, [(10.0, g0)] + [(20.0, g0)] * 3 + [(10.0, g0), (9.9, [0.0] * 4)])
    optimizer.step(closure)
    state = optimizer.state[image]
    assert state["evals"] == 4 and state["trials"] == 3  # at most max_trials beyond the first
    assert torch.equal(flat(image), torch.full((4,), 0.5))  # nothing lower was found: stay
    assert state["restarts"] == 1 and state["descent_scale"] == pytest.approx(0.1)
    optimizer.step(closure)  # steepest descent again, ten times shorter: t = 0.1
    assert torch.allclose(flat(image), 0.5 - 0.1 * torch.tensor(g0))


# ---- state and exact resume ---------------------------------------------------------------

def gram_objective(seed=0):
    """A small non-convex loss like style transfer's: Gram matrix match plus content, 3x6x6 pixels."""
    generator = torch.Generator().manual_seed(seed)
    content = torch.rand(1, 3, 6, 6, generator=generator)
    style = torch.rand(3, 36, generator=generator) ** 2
    target = style @ style.T / 36

    def closure_for(image, optimizer):
        def closure():
            optimizer.zero_grad(set_to_none=True)
            features = image.view(3, 36)
            total = 1e3 * (features @ features.T / 36 - target).square().sum() + (image - content).square().sum()
            total.backward()
            return total

        return closure

    return content, closure_for


def plain(value):
    """True if value is made of tensors and plain Python types only."""
    if isinstance(value, (torch.Tensor, bool, int, float, str, type(None))):
        return True
    if isinstance(value, (list, tuple)):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and plain(v) for k, v in value.items())
    return False


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_state_dict_holds_only_tensors_and_plain_types(line_search):
    content, closure_for = gram_objective()
    image = content.clone().requires_grad_(True)
    optimizer = LBFGS([image], history_size=3, max_step=0.3, line_search=line_search)
    for _ in range(5):
        optimizer.step(closure_for(image, optimizer))
    saved = optimizer.state_dict()
    assert set(saved["state"][0]) == STATE_KEYS
    assert plain(saved)
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert set(loaded["state"][0]) == STATE_KEYS and loaded["param_groups"][0]["history_size"] == 3


def run_steps(image, optimizer, closure_for, steps):
    for _ in range(steps):
        optimizer.step(closure_for(image, optimizer))


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_resume_through_a_weights_only_checkpoint_is_bit_exact(tmp_path, line_search):
    content, closure_for = gram_objective()
    settings = {"history_size": 3, "max_step": 0.3, "line_search": line_search}

    straight = content.clone().requires_grad_(True)
    uninterrupted = LBFGS([straight], **settings)
    run_steps(straight, uninterrupted, closure_for, 14)

    first = content.clone().requires_grad_(True)
    optimizer = LBFGS([first], **settings)
    run_steps(first, optimizer, closure_for, 6)
    torch.save({"image": first.detach(), "optimizer": optimizer.state_dict()}, tmp_path / "ckpt.pt")
    checkpoint = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    resumed = checkpoint["image"].clone().requires_grad_(True)
    fresh = LBFGS([resumed], **settings)
    fresh.load_state_dict(checkpoint["optimizer"])
    run_steps(resumed, fresh, closure_for, 8)

    assert torch.equal(resumed.detach(), straight.detach())
    a, b = fresh.state[resumed], uninterrupted.state[straight]
    assert set(a) == set(b) == STATE_KEYS
    for key in STATE_KEYS:
        if isinstance(b[key], list):
            assert len(a[key]) == len(b[key]) and all(
                torch.equal(u, v) if isinstance(v, torch.Tensor) else u == v for u, v in zip(a[key], b[key]))
        elif isinstance(b[key], torch.Tensor):
            assert torch.equal(a[key], b[key])
        else:
            assert a[key] == b[key], key
    # the resumed stretch rolled the memory over, and rolled back (plain) or searched (line search)
    assert b["step"] == 14 and len(b["s"]) > 0
    assert b["rollbacks"] > 0 if line_search is None else b["evals"] > 2 * 14


def test_lbfgs_takes_exactly_one_tensor_and_checks_its_options():
    image = torch.zeros(1, 1, 2, 2, requires_grad=True)
    with pytest.raises(ValueError, match="exactly one tensor"):
        LBFGS([image, torch.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match="line_search"):
        LBFGS([image], line_search="backtracking")
    with pytest.raises(ValueError, match="max_trials"):
        LBFGS([image], line_search="strong_wolfe", max_trials=0)


def test_no_engine_code_uses_torch_lbfgs():
    package = Path(__file__).resolve().parents[2] / "nst"
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert "optim.LBFGS" not in text and "_strong_wolfe" not in text, path
