"""Optimisers over the image pixels, one step of each, and their diagnostics."""
from __future__ import annotations

import math

import torch

from .lbfgs import LBFGS
from .losses import LossTerms, StyleTransferLoss
from .settings import Settings


# Evaluations a strong-Wolfe line search may spend beyond the one that starts each step.
LINE_SEARCH_MAX_TRIALS = 25


def make_optimizer(image: torch.Tensor, settings: Settings, h0: float | None = None) -> torch.optim.Optimizer:
    """``h0``: L-BFGS's first-step curvature scale, carried from a coarser scale (:func:`carried_h0`)."""
    if settings.optimizer == "adam":
        return torch.optim.Adam(
            [image],
            lr=settings.adam_learning_rate,
            betas=(settings.adam_beta_1, settings.adam_beta_2),
            eps=settings.adam_epsilon,
        )
    # One L-BFGS iteration per step, so every step is logged, snapshotted and checkpointable;
    # the pixel bounds, the step cap and the roll-back live in the optimiser (see .lbfgs).
    return LBFGS(
        [image],
        history_size=settings.lbfgs_history,
        max_step=settings.lbfgs_max_step,
        line_search=None if settings.lbfgs_line_search == "none" else settings.lbfgs_line_search,
        bounds=(0.0, 1.0),
        max_trials=LINE_SEARCH_MAX_TRIALS,
        h0=h0,
    )


def evaluate(objective, image: torch.Tensor) -> LossTerms:
    """The objective's terms at ``image``, their gradient in ``image.grad``: its own ``evaluate``
    (a tiled loss computes the gradient tile by tile), or autograd on any callable."""
    if hasattr(objective, "evaluate"):
        return objective.evaluate(image)
    terms = objective(image)
    terms.total.backward()
    return terms


def optimisation_step(image: torch.Tensor, optimizer: torch.optim.Optimizer, objective: StyleTransferLoss) -> LossTerms:
    """One optimiser step; returns the loss terms of its first evaluation (the image it started from).

    Adam: one evaluation, one step, pixels clipped back to [0, 1]. L-BFGS: one iteration of
    :class:`~nst.engine.lbfgs.LBFGS`, which keeps the pixels in [0, 1] and caps the step
    itself (one evaluation, or more with a line search).
    """
    first: list[LossTerms] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        terms = evaluate(objective, image)
        if not first:
            first.append(terms)
        return terms.total

    if isinstance(optimizer, LBFGS):
        optimizer.step(closure)
        return first[0]
    closure()
    optimizer.step()
    with torch.no_grad():
        image.clamp_(0.0, 1.0)
    return first[0]


def effective_learning_rates(image: torch.Tensor, optimizer: torch.optim.Optimizer) -> tuple[float, float, float]:
    """Adam's per-pixel step size lr / (sqrt(v_hat) + eps): (min, mean, max); NaN for other optimisers."""
    state = optimizer.state.get(image, {})
    if not isinstance(optimizer, torch.optim.Adam) or "exp_avg_sq" not in state:
        return (math.nan, math.nan, math.nan)
    group = optimizer.param_groups[0]
    beta2, eps, lr = group["betas"][1], group["eps"], group["lr"]
    step = float(state["step"])
    v_hat = state["exp_avg_sq"] / (1.0 - beta2**step)
    rates = lr / (v_hat.sqrt() + eps)
    return (rates.min().item(), rates.mean().item(), rates.max().item())


def lipschitz_estimate(image: torch.Tensor, objective: StyleTransferLoss, iterations: int, seed: int) -> float:
    """Largest Hessian eigenvalue of the total loss at ``image``, by power iteration on H·v.

    Uses its own generator so that the optimisation's random stream is untouched.
    """
    x = image.detach().clone().requires_grad_(True)
    grad = torch.autograd.grad(objective(x).total, x, create_graph=True)[0]
    generator = torch.Generator(device="cpu").manual_seed(seed)
    vector = torch.randn(x.shape, generator=generator).to(x.device)
    vector /= vector.norm()
    eigenvalue = math.nan
    for _ in range(iterations):
        hessian_vector = torch.autograd.grad(grad, x, grad_outputs=vector, retain_graph=True)[0]
        eigenvalue = float(torch.dot(hessian_vector.flatten(), vector.flatten()))
        norm = hessian_vector.norm()
        if norm == 0:
            break
        vector = hessian_vector / norm
    return eigenvalue
