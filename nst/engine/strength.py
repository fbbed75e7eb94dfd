"""One strength for every pair: the style weight adapted during the first scale (``--style-strength``).

With ``--loss-scale photo`` the style term divided by the style weight is the share of
the photo's own distance to the painting that is left (1 at the start, mean over the
style layers). A fixed weight leaves very different shares on different pairs in the
same steps: a dark or flat photo under a graphic style moves slowly (measured at 256 px,
26 L-BFGS steps, weight 3: rocket x op art still at 0.81, grace_hopper x op art at 0.21),
while an easy pair overshoots and loses its content. So the weight is the multiplier of a
constraint instead: at a few checks during the first (cheapest) scale, the share left is
compared with a path from 1 down to ``1 - strength`` and the weight is multiplied by
their ratio (bounded), a step of dual ascent. The photo has a say too: where its
content distance (``--loss-scale photo``'s content term divided by the content weight:
the squared feature change relative to the photo's own features) is above
CONTENT_CEILING, the weight is not raised, and lowered in proportion to the excess, so a
fragile photo (dark, flat sky) stays recognisable at the price of a weaker style. The
optimiser restarts its memory after a change (the objective changed); the later scales
keep the weight the first one found.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .observers import Observer
from .optimisers import make_optimizer

if TYPE_CHECKING:
    from .run import Run
    from .scales import Scale

# Where in the first scale the weight is checked (fractions of its steps), and by when the
# path reaches its end (later checks hold it there).
CHECKS = (0.25, 0.5, 0.75)
PATH_END = 0.75
# Largest change of the weight at one check (a factor), so one noisy check cannot wreck it.
LARGEST_CHANGE = 2.0
# The content distance above which the photo counts as being lost (measured at 256 px, 26
# L-BFGS steps: 0.24-0.61 on pairs whose photo stays clear, 0.85-2.1 on the dark rocket
# photo under pop art and op art with weight 3-10, where its sky turns into the painting).
CONTENT_CEILING = 1.0


def check_steps(scale: Scale) -> dict[int, float]:
    """{step: fraction of the scale done} of the checks in ``scale`` (none at its last step)."""
    steps = scale.last_step - scale.first_step
    checks = {}
    for fraction in CHECKS:
        done = round(fraction * steps)
        if 0 < done < steps:
            checks[scale.first_step + done] = done / steps
    return checks


def target_share(strength: float, fraction: float) -> float:
    """The share of the photo's style distance that should be left ``fraction`` of the way
    through the first scale: geometric from 1 to ``1 - strength``, reached at PATH_END."""
    return (1.0 - strength) ** min(1.0, fraction / PATH_END)


def adapted_weight(weight: float, share: float, target: float, content: float = 0.0) -> float:
    """The weight times share / target, never raised while ``content`` (the photo's content
    distance) is above CONTENT_CEILING and then lowered by ceiling / content; by at most
    LARGEST_CHANGE either way."""
    factor = share / target
    if content > CONTENT_CEILING:
        factor = min(factor, 1.0, CONTENT_CEILING / content)
    return weight * min(LARGEST_CHANGE, max(1.0 / LARGEST_CHANGE, factor))


class StrengthControl(Observer):
    """Adapts ``run.style_weight`` at the checks of the first scale (see the module docstring).

    Runs after the CSV row of the step (which shows the weight that step used) and before
    its checkpoint (which carries the new weight and the fresh optimiser).
    """

    def on_step(self, run: Run, losses: dict[str, float]) -> None:
        strength = run.settings.style_strength
        # A run continued from another (--start-from) keeps the weight that one reached.
        if not strength or run.scale.index != 0 or run.settings.start_from:
            return
        fraction = check_steps(run.scale).get(run.step)
        if fraction is None:
            return
        layer_weights = run.settings.style_layer_weights
        share = losses["style_loss"] / run.style_weight / (sum(layer_weights) / len(layer_weights))
        alpha = run.settings.content_weight
        content = losses["content_loss"] / alpha if alpha else 0.0
        weight = adapted_weight(run.style_weight, share, target_share(strength, fraction), content)
        if weight != run.style_weight:
            run.style_weight = weight
            run.objective.set_style_weight(weight)
            run.optimizer = make_optimizer(run.image, run.settings)
