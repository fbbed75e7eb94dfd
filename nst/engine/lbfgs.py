"""L-BFGS over the image pixels, with the [0, 1] box built in.

Our own L-BFGS rather than torch's, whose private state we used to rewrite from
outside: one step is one iteration (one evaluation without a line search), so every step
is logged and checkpointable, and the optimiser itself knows about the pixel bounds:

* the gradient is projected: where a pixel sits on a bound and descent would push it
  out, that component is zero (otherwise every step proposes moves the clamp undoes and
  the run stalls within a few steps);
* after a step pixels are clamped to the bounds, and the step is shrunk as a whole
  (keeping its direction) so that no pixel changes by more than ``max_step`` (the second
  step's curvature, guessed from a tiny first step, can throw most pixels against 0 or 1;
  at 256 px over 60 steps a cap of 0.3 turned a run stuck at 9.9e9 into 3.9e7);
* curvature pairs are built from the step actually taken (after clamp and cap), so the
  inverse-Hessian estimate describes the iterates (without this, half of the sample grid
  diverged into noise);
* when the loss at the start of a step is worse than at the last accepted point, the
  image returns there with a fresh memory (measured at 256 px, 40 steps: 5.3e7 instead of
  7.8e7) and takes a steepest-descent step from it at once, with the gradient kept from
  that point: no evaluation is spent on a point already known;
* optionally, a strong-Wolfe line search (bracketing, then zoom by cubic interpolation)
  along the projected path ``clamp(x + t d)``, ``t`` limited so the cap holds.

Everything the iteration needs lives in ``optimizer.state[param]`` as tensors and plain
Python values (see :class:`LBFGS`), so ``state_dict()`` round-trips through
``torch.save`` / ``torch.load(weights_only=True)`` and a resumed run equals an
uninterrupted one bit for bit.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import torch

CURVATURE_THRESHOLD = 1e-10  # a pair (s, y) is kept only if s·y exceeds this
WOLFE_C1 = 1e-4  # sufficient decrease
WOLFE_C2 = 0.9  # curvature (strong Wolfe: |phi'(t)| <= c2 |phi'(0)|)
SMALLEST_BRACKET = 1e-9  # zoom stops when the bracket moves no pixel by more than this


def project_gradient(x: torch.Tensor, grad: torch.Tensor, lower: float, upper: float) -> torch.Tensor:
    """``grad`` with zeros where ``x`` sits on a bound and a descent step would leave the box.

    The positive part of the gradient survives where ``x`` is above ``lower``, the negative
    part where it is below ``upper``. Written with float arithmetic only (the indicators
    are ``sign(x - lower)`` and ``sign(upper - x)``): on the CPU, building boolean masks
    over an image costs about five times as much.
    """
    above_lower = (x - lower).sign_().clamp_(min=0.0)
    below_upper = (upper - x).sign_().clamp_(min=0.0)
    return grad.clamp(min=0.0).mul_(above_lower).add_(grad.clamp(max=0.0).mul_(below_upper))


def two_loop(grad: torch.Tensor, s: list[torch.Tensor], y: list[torch.Tensor], rho: list[float],
             h_diag: float) -> torch.Tensor:
    """The L-BFGS direction ``-H grad`` by the two-loop recursion (Nocedal & Wright, Alg. 7.4).

    ``H`` is the inverse-Hessian estimate obtained from ``H0 = h_diag * I`` by one BFGS
    update per pair ``(s[i], y[i])``, oldest first, with ``rho[i] = 1 / (s[i]·y[i])``.
    """
    q = grad.neg()
    alpha = [0.0] * len(s)
    for i in reversed(range(len(s))):
        alpha[i] = rho[i] * torch.dot(s[i], q).item()
        q.add_(y[i], alpha=-alpha[i])
    r = q.mul_(h_diag)
    for i in range(len(s)):
        beta = rho[i] * torch.dot(y[i], r).item()
        r.add_(s[i], alpha=alpha[i] - beta)
    return r


def cubic_minimiser(a: float, fa: float, da: float, b: float, fb: float, db: float) -> float | None:
    """Minimiser of the cubic through (a, fa) and (b, fb) with slopes da, db; None if it has none.

    With ``u = da + db - 3 (fa - fb) / (a - b)`` and ``w = sign(b - a) sqrt(u² - da db)``,
    the minimiser is ``b - (b - a) (db + w - u) / (db - da + 2 w)`` (Nocedal & Wright, eq. 3.59).
    """
    if a == b:
        return None
    u = da + db - 3.0 * (fa - fb) / (a - b)
    radicand = u * u - da * db
    if not math.isfinite(radicand) or radicand < 0:
        return None
    w = math.copysign(math.sqrt(radicand), b - a)
    denominator = db - da + 2.0 * w
    if denominator == 0:
        return None
    t = b - (b - a) * (db + w - u) / denominator
    return t if math.isfinite(t) else None


def largest_step_length(x: torch.Tensor, d: torch.Tensor, max_step: float, lower: float, upper: float) -> float:
    """The largest ``t`` for which ``clamp(x + t d)`` changes no pixel by more than ``max_step``.

    A pixel closer than ``max_step`` to the bound it moves towards is stopped there by the
    clamp; every other pixel reaches ``max_step`` at ``t = max_step / |d|``.
    """
    if max_step <= 0:
        return math.inf
    room = torch.where(d > 0, upper - x, x - lower)
    reach = torch.where(room > max_step, d.abs(), torch.zeros_like(d)).max().item()
    return max_step / reach if reach > 0 else math.inf


def _without_dynamo_guard(method: Callable) -> Callable:
    """``method`` as torch wrote it, without the ``torch._disable_dynamo`` wrapper (functools.wraps
    keeps the original as ``__wrapped__``; a torch without the wrapper gives the method itself)."""
    return getattr(method, "__wrapped__", method)


class LBFGS(torch.optim.Optimizer):
    """L-BFGS for one tensor parameter (the image) inside a box, one iteration per :meth:`step`.

    Args:
        params: an iterable holding exactly one tensor.
        history_size: curvature pairs kept.
        max_step: largest change of any pixel in one step (0: no cap). Without a line
            search the step, clamped to the bounds, is shrunk as a whole; with one, the
            step length is limited so that no trial point breaks it.
        line_search: None (step length 1; ``min(1, 1/|g|_1)`` for the steepest-descent step
            that starts a fresh memory) or ``"strong_wolfe"`` (at most ``max_trials`` extra
            evaluations a step).
        bounds: (lower, upper) for every pixel.
        max_trials: evaluations a line search may spend beyond the one at the start.
        h0: the scale of ``H0 = h0 * I`` for the first step, carried from a coarser scale's
            optimiser (:func:`carried_h0`): the first step is then quasi-Newton with step
            length 1 rather than steepest descent. None: steepest descent.

    :meth:`step` takes a closure that zeroes the gradient, evaluates the loss, calls
    ``backward()`` and returns the loss tensor; it returns the loss at the point where the
    step started (the closure's first result).

    Directions: the first step (unless ``h0`` is given), and the first after a restart, is
    steepest descent with torch's step length ``min(1, 1/|g|_1)`` (times ``descent_scale``).
    Every other step uses the two-loop recursion with ``H0 = h_diag * I``, step length 1, also while the
    memory is still empty because the pairs so far had ``s·y <= 1e-10``: ``H0 = I`` then,
    as in torch. That long step, cut by the clamp and the cap, is what gets a style
    transfer going: the gradient change over the first tiny steps is dominated by ReLU
    kinks (``s·y < 0``), and waiting for a usable pair with tiny steps cost 7 of 60 steps
    and a 1.5x higher loss on a sample pair at 256 px.

    State (``self.state[param]``, empty before the first step; values are replaced,
    never changed in place, so a ``state_dict()`` taken between steps stays valid):

    ========================  ===============================================================
    ``step`` (int)            steps taken
    ``evals`` (int)           closure evaluations (line-search trials included)
    ``rollbacks`` (int)       steps that found a worse loss and returned to ``x``
    ``restarts`` (int)        memory restarts (roll-backs, non-descent directions, failed
                              line searches)
    ``x`` (tensor)            the accepted point, flattened: where the latest step started
    ``grad`` (tensor)         the projected gradient at ``x``
    ``loss`` (float)          the loss at ``x``
    ``s``, ``y`` (lists)      curvature pairs, oldest first: ``s`` the step actually taken,
                              ``y`` the change of the projected gradient over it
    ``rho`` (list of float)   ``1 / (s·y)`` for each pair
    ``h_diag`` (float)        initial inverse-Hessian scale ``s·y / y·y`` of the newest pair
    ``measured_h_diag``       the newest pair's ``s·y / y·y``, kept through restarts (None before
                              the first pair): what a finer scale's optimiser starts with
    ``restart`` (bool)        the next step starts a fresh memory (steepest descent, short)
    ``fresh`` (bool)          the latest step was such a fresh start
    ``descent_scale`` (float) factor on the fresh start's step length: 1, shrunk by
                              backtracking only when a fresh start gets rolled back
    ``trials`` (int)          line-search evaluations of the latest step (0 without)
    ========================  ===============================================================
    """

    # torch wraps these four in torch._disable_dynamo, whose first call imports torch._dynamo:
    # about 2 s of every job's start-up and 0.6 s of its exit. This optimiser is never
    # compiled, so it takes torch's own methods without the wrapper.
    add_param_group = _without_dynamo_guard(torch.optim.Optimizer.add_param_group)
    state_dict = _without_dynamo_guard(torch.optim.Optimizer.state_dict)
    load_state_dict = _without_dynamo_guard(torch.optim.Optimizer.load_state_dict)
    zero_grad = _without_dynamo_guard(torch.optim.Optimizer.zero_grad)

    def __init__(self, params: Iterable[torch.Tensor], history_size: int = 10, max_step: float = 0.0,
                 line_search: str | None = None, bounds: tuple[float, float] = (0.0, 1.0),
                 max_trials: int = 25, h0: float | None = None) -> None:
        if history_size < 1:
            raise ValueError(f"history_size must be at least 1 (got {history_size})")
        if max_step < 0:
            raise ValueError(f"max_step must not be negative (got {max_step})")
        if line_search not in (None, "strong_wolfe"):
            raise ValueError(f"line_search must be None or 'strong_wolfe' (got {line_search!r})")
        if max_trials < 1:
            raise ValueError(f"max_trials must be at least 1 (got {max_trials})")
        if h0 is not None and not (math.isfinite(h0) and h0 > 0):
            raise ValueError(f"h0 must be positive (got {h0})")
        lower, upper = float(bounds[0]), float(bounds[1])
        if not lower < upper:
            raise ValueError(f"bounds must be (lower, upper) with lower < upper (got {bounds})")
        defaults = {"history_size": int(history_size), "max_step": float(max_step), "line_search": line_search,
                    "bounds": (lower, upper), "max_trials": int(max_trials), "h0": h0}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1 or len(self.param_groups[0]["params"]) != 1:
            raise ValueError("LBFGS optimises exactly one tensor")

    # ---- one iteration -------------------------------------------------------------------

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        group = self.param_groups[0]
        param = group["params"][0]
        state = self.state[param]
        lower, upper = group["bounds"]

        loss = self._evaluate(closure, param, state)
        f = float(loss.detach())
        x = param.detach().reshape(-1).clone()
        g = project_gradient(x, param.grad.detach().reshape(-1), lower, upper)
        state["step"] = state.get("step", 0) + 1

        if "x" in state and not f <= state["loss"]:
            # Worse than the accepted point (or not finite): back there, fresh memory. Its
            # gradient is kept, so the steepest-descent step from it is taken right away.
            if state["fresh"]:
                state["descent_scale"] = state["descent_scale"] * _backtrack(
                    state["loss"], torch.dot(state["grad"], x - state["x"]).item(), f)
            state["rollbacks"] += 1
            self._forget(state)
            x, g = state["x"], state["grad"]
        else:
            if "x" in state:
                self._remember(state, x - state["x"], g - state["grad"], group["history_size"])
                if f < state["loss"]:
                    state["descent_scale"] = 1.0
            else:
                h0 = group.get("h0")
                state.update(rollbacks=0, restarts=0, s=[], y=[], rho=[], h_diag=h0 or 1.0, descent_scale=1.0,
                             restart=h0 is None, fresh=False, measured_h_diag=None)
            state["x"], state["grad"], state["loss"] = x, g, f

        direction = self._direction(state, g)
        state["trials"] = 0
        if direction is None:  # projected gradient is zero: a stationary point of the box problem
            state["fresh"] = False
            param.copy_(x.view_as(param))
            return loss
        d, t, state["fresh"] = direction
        state["restart"] = False
        if group["line_search"] is None:
            x_new = self._fixed_step(x, d, t, group)
        else:
            x_new = self._wolfe_search(closure, param, state, x, g, f, d, t, group)
        param.copy_(x_new.view_as(param))
        return loss

    def _evaluate(self, closure: Callable[[], torch.Tensor], param: torch.Tensor, state: dict) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        state["evals"] = state.get("evals", 0) + 1
        if param.grad is None:
            raise RuntimeError("LBFGS: the closure must call backward() on the loss")
        return loss

    @staticmethod
    def _remember(state: dict, s: torch.Tensor, y: torch.Tensor, history_size: int) -> None:
        ys = torch.dot(s, y).item()
        if ys > CURVATURE_THRESHOLD:
            state["s"] = (state["s"] + [s])[-history_size:]
            state["y"] = (state["y"] + [y])[-history_size:]
            state["rho"] = (state["rho"] + [1.0 / ys])[-history_size:]
            state["h_diag"] = state["measured_h_diag"] = ys / torch.dot(y, y).item()

    @staticmethod
    def _forget(state: dict) -> None:
        state.update(s=[], y=[], rho=[], h_diag=1.0, restart=True, restarts=state["restarts"] + 1)

    def _direction(self, state: dict, g: torch.Tensor) -> tuple[torch.Tensor, float, bool] | None:
        """(direction, initial step length, fresh start?); None where the projected gradient is zero."""
        g_norm_1 = g.abs().sum().item()
        if g_norm_1 == 0:
            return None
        if not state["restart"]:
            d = two_loop(g, state["s"], state["y"], state["rho"], state["h_diag"])
            if torch.dot(g, d).item() < 0:
                return d, 1.0, False
            self._forget(state)  # rounding broke the estimate: start over
        # torch's first step length, kept so that runs stay comparable
        return g.neg(), state["descent_scale"] * min(1.0, 1.0 / g_norm_1), True

    @staticmethod
    def _fixed_step(x: torch.Tensor, d: torch.Tensor, t: float, group: dict) -> torch.Tensor:
        lower, upper = group["bounds"]
        x_new = torch.add(x, d, alpha=t).clamp_(lower, upper)
        max_step = group["max_step"]
        if max_step > 0:
            delta = x_new - x
            largest = delta.abs().max().item()
            if largest > max_step:
                x_new = torch.add(x, delta, alpha=max_step / largest).clamp_(lower, upper)
        return x_new

    # ---- strong-Wolfe line search --------------------------------------------------------

    def _wolfe_search(self, closure: Callable[[], torch.Tensor], param: torch.Tensor, state: dict,
                      x: torch.Tensor, g: torch.Tensor, f0: float, d: torch.Tensor, t: float,
                      group: dict) -> torch.Tensor:
        """The next point along ``clamp(x + t d)``: one satisfying the strong Wolfe conditions.

        phi(t) = loss(clamp(x + t d)) for 0 < t <= t_max (the cap); phi'(t) = grad · d over
        the pixels the clamp leaves free. Bracketing (N&W Alg. 3.5) then zoom (Alg. 3.6)
        with safeguarded cubic interpolation. If no point satisfies the conditions within
        ``max_trials`` evaluations, the lowest trial point is taken if it is lower than
        ``x``; otherwise the image stays at ``x`` and the memory restarts (and a failed
        fresh start makes the next one ten times shorter).
        """
        lower, upper = group["bounds"]
        max_trials = group["max_trials"]
        # phi'(0): the pixels on a bound that d pushes outwards do not move
        slope0 = torch.dot(g, project_gradient(x, d.neg(), lower, upper).neg_()).item()
        t_max = largest_step_length(x, d, group["max_step"], lower, upper)
        trials = 0
        best_t, best_f = 0.0, f0

        def phi(t: float) -> tuple[float, float]:
            nonlocal trials, best_t, best_f
            unclamped = torch.add(x, d, alpha=t)
            point = unclamped.clamp(lower, upper)
            # phi'(t) = grad · d over the pixels the clamp leaves free (1 - sign|clamped - unclamped|)
            free_d = unclamped.sub_(point).abs_().sign_().neg_().add_(1.0).mul_(d)
            param.copy_(point.view_as(param))
            f = float(self._evaluate(closure, param, state).detach())
            trial_g = project_gradient(point, param.grad.detach().reshape(-1), lower, upper)
            trials += 1
            if f < best_f:
                best_t, best_f = t, f
            return f, torch.dot(trial_g, free_d).item()

        def armijo(t: float, f: float) -> bool:
            return f <= f0 + WOLFE_C1 * t * slope0

        def curvature(slope: float) -> bool:
            return abs(slope) <= -WOLFE_C2 * slope0

        def zoom(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> float | None:
            largest_d = d.abs().max().item()
            while trials < max_trials and abs(hi[0] - lo[0]) * largest_d > SMALLEST_BRACKET:
                left, right = min(lo[0], hi[0]), max(lo[0], hi[0])
                margin = 0.1 * (right - left)
                t = cubic_minimiser(*lo, *hi)
                if t is None or not left + margin <= t <= right - margin:
                    t = 0.5 * (left + right)
                f, slope = phi(t)
                if not armijo(t, f) or f >= lo[1]:
                    hi = (t, f, slope)
                else:
                    if curvature(slope):
                        return t
                    if slope * (hi[0] - lo[0]) >= 0:
                        hi = lo
                    lo = (t, f, slope)
            return None

        found: float | None = None
        previous = (0.0, f0, slope0)
        t = min(t, t_max)
        while trials < max_trials:
            f, slope = phi(t)
            if not armijo(t, f) or (trials > 1 and f >= previous[1]):
                found = zoom(previous, (t, f, slope))
                break
            if curvature(slope):
                found = t
                break
            if slope >= 0:
                found = zoom((t, f, slope), previous)
                break
            if t >= t_max:  # as far as the cap allows, and still going down
                found = t
                break
            guess = cubic_minimiser(*previous, t, f, slope)
            t_next = min(max(guess if guess is not None else 10 * t, 2 * t), 10 * t, t_max)
            previous, t = (t, f, slope), t_next

        state["trials"] = trials
        if found is None:
            if best_f < f0:
                found = best_t
            else:
                if state["fresh"]:
                    state["descent_scale"] = state["descent_scale"] * 0.1
                self._forget(state)
                return x
        return torch.add(x, d, alpha=found).clamp_(lower, upper)


def carried_h0(optimizer: torch.optim.Optimizer | None) -> float | None:
    """The ``h0`` of a finer scale's optimiser: ``optimizer``'s newest measured curvature scale
    (:func:`measured_curvature`), or None (not an :class:`LBFGS`, or nothing measured yet)."""
    if not isinstance(optimizer, LBFGS):
        return None
    return measured_curvature(next(iter(optimizer.state.values()), {}))


def measured_curvature(state: dict) -> float | None:
    """The newest ``s·y / y·y`` an :class:`LBFGS` state (``optimizer.state[param]``, or the entry
    of a checkpoint's ``state_dict()``) measured, also when a restart has since cleared the pairs
    (a scale that ends on a roll-back still hands its curvature on); None where there is none.

    Taken as it is: a loss that is a mean over positions suggests multiplying it by the ratio of
    pixel counts, but that overshot at the next scale (then rolled back: two evaluations lost),
    and as it is ended lower on 4 pairs of 4 (benchmarks/carry_curvature.py).
    """
    if state.get("measured_h_diag") is not None:
        return state["measured_h_diag"]
    return state["h_diag"] if state.get("s") else None  # checkpoints from before the key


def _backtrack(f0: float, slope: float, f1: float) -> float:
    """Fraction of a rejected step to try next: the minimiser of the parabola through
    phi(0) = f0, phi'(0) = slope, phi(1) = f1, kept within [0.1, 0.5]."""
    curvature = f1 - f0 - slope
    if not (slope < 0 and curvature > 0 and math.isfinite(curvature)):
        return 0.1
    return min(max(-slope / (2.0 * curvature), 0.1), 0.5)
