"""Optimisers over the image pixels, one step of each, and their diagnostics."""
from __future__ import annotations

import math

import torch

from .losses import LossTerms, StyleTransferLoss
from .settings import Settings


LINE_SEARCH_MAX_TRIALS = 25


def make_optimizer(image: torch.Tensor, settings: Settings) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam(
            [image],
            lr=settings.adam_learning_rate,
            betas=(settings.adam_beta_1, settings.adam_beta_2),
            eps=settings.adam_epsilon,
        )
    # One L-BFGS iteration per step, so every step is logged, snapshotted and checkpointable.
    return torch.optim.LBFGS(
        [image],
        lr=1.0,
        max_iter=1,
        # torch gives the line search max_eval - 1 trials and defaults max_eval to
        # max_iter * 5 // 4, which for one iteration is 1: no trial left, and after the
        # first rejected point it returns t = 0, freezing the image. 25 is torch's own
        # default for a line search.
        max_eval=1 + LINE_SEARCH_MAX_TRIALS,
        history_size=settings.lbfgs_history,
        line_search_fn=None if settings.lbfgs_line_search == "none" else settings.lbfgs_line_search,
        # Our losses are ~1e5..1e12; torch's default tolerances would only stop a converged run.
        tolerance_grad=0.0,
        tolerance_change=0.0,
    )


def optimisation_step(
    image: torch.Tensor, optimizer: torch.optim.Optimizer, objective: StyleTransferLoss, max_step: float = 0.0
) -> LossTerms:
    """One optimiser step; returns the loss terms at the image the step started from.

    Pixels are clipped back to [0, 1] after the step. For L-BFGS, no pixel moves more
    than ``max_step`` (0: unlimited), the step taken is what its memory records, and a
    step that made things worse is undone.
    """
    first: list[LossTerms] = []
    lbfgs = isinstance(optimizer, torch.optim.LBFGS)

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        terms = objective(image)
        terms.total.backward()
        if lbfgs:
            project_gradient(image)
        if not first:
            first.append(terms)
        return terms.total

    if not lbfgs:
        closure()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(0.0, 1.0)
        return first[0]

    before = image.detach().clone()
    optimizer.step(closure)
    with torch.no_grad():
        image.clamp_(0.0, 1.0)
    cap_step(image, before, max_step)
    record_clipped_step(image, before, optimizer)
    restart_if_worse(image, before, float(first[0].total.detach()), optimizer)
    return first[0]


def restart_if_worse(image: torch.Tensor, evaluated: torch.Tensor, loss: float, optimizer: torch.optim.LBFGS) -> None:
    """Undo an L-BFGS overshoot: back to the best point so far, with a fresh memory.

    Without a line search, early L-BFGS steps (curvature guessed from a tiny first step)
    can raise the loss 20-fold. When the point this step evaluated is worse than the last
    accepted one, the image returns there and the history restarts (measured at 256 px,
    40 steps: final loss 5.3e7 instead of 7.8e7). The accepted point lives in the
    optimiser state, so checkpoints carry it.
    """
    state = optimizer.state[image]
    best_loss, best_image = state.get("accepted_loss"), state.get("accepted_image")
    if best_loss is not None and loss > best_loss:
        state.clear()
        with torch.no_grad():
            image.copy_(best_image)
    else:
        best_loss, best_image = loss, evaluated
    state["accepted_loss"], state["accepted_image"] = best_loss, best_image


def cap_step(image: torch.Tensor, before: torch.Tensor, max_step: float) -> None:
    """Shrink the step (keeping its direction) so that no pixel changes by more than ``max_step``.

    L-BFGS's second step uses a curvature guessed from a tiny first step and can throw
    most pixels against 0 or 1; measured at 256 px over 60 steps, a cap of 0.3 turned a
    run stuck at 9.9e9 into 3.9e7 and improved a good one from 5.3e7 to 3.3e7.
    """
    if max_step <= 0:
        return
    with torch.no_grad():
        delta = image - before
        largest = delta.abs().max()
        if largest > max_step:
            image.copy_(before + delta * (max_step / largest))


def record_clipped_step(image: torch.Tensor, before: torch.Tensor, optimizer: torch.optim.LBFGS) -> None:
    """Make L-BFGS's next curvature pair use the step actually taken after clipping.

    torch builds the pair (s, y) from its stored direction d and step length t, s = t * d.
    Clipping moves the image elsewhere, so without this s and y describe different points,
    the inverse-Hessian estimate goes wrong, and runs diverge into noise or stall.
    """
    state = optimizer.state[image]
    step_length = state.get("t")
    if step_length:
        state["d"] = (image.detach() - before).flatten() / step_length


def project_gradient(image: torch.Tensor) -> None:
    """Zero the gradient where a pixel sits on a bound and descent would push it out.

    Without this, L-BFGS keeps proposing steps that the clipping undoes, its curvature
    pairs stop describing the clipped iterates, and the run stalls within a few steps.
    """
    with torch.no_grad():
        grad = image.grad
        blocked = ((image <= 0.0) & (grad > 0)) | ((image >= 1.0) & (grad < 0))
        grad.masked_fill_(blocked, 0.0)


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
