"""The style losses of nst/engine/losses/style.py: hand-computed values, determinism, gradients, and
exactness of statistics combined over parts of the positions (what a tiled picture relies on)."""
import math

import pytest
import torch

from nst.engine.losses.style import (STYLE_LOSSES, GaussianStatistic, SlicedStatistic, backward_part, flatten,
                                     random_directions, resample_sorted, sort_columns, sorted_projections,
                                     style_statistic)


def features(seed: int, channels: int = 3, height: int = 4, width: int = 5, dtype=torch.float32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, channels, height, width, generator=generator, dtype=dtype) * 3


def make(kind: str, style: torch.Tensor, seed: int = 0):
    directions = random_directions(style.shape[1], 2 * style.shape[1], seed) if kind == "swd" else None
    return style_statistic(kind, style, directions=directions)


@pytest.mark.parametrize("kind", STYLE_LOSSES)
def test_zero_at_the_styles_own_statistics_and_positive_elsewhere(kind):
    style = features(0)
    loss = make(kind, style)
    assert loss(style).item() == pytest.approx(0.0, abs=1e-4 * loss(features(1)).item())
    # The same positions in another order (a flipped picture) have the same statistics.
    assert loss(style.flip(-1)).item() == pytest.approx(0.0, abs=1e-4 * loss(features(1)).item())
    assert loss(features(1)).item() > 0


def test_gram_value_by_hand():
    # C=2, two positions (1, 3) and (2, 4): F^T F / 2 = [[2.5, 5.5], [5.5, 12.5]]; the style's (1, 0), (0, 1): I / 2.
    image = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    style = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])
    expected = (2.5 - 0.5) ** 2 + 2 * 5.5**2 + (12.5 - 0.5) ** 2
    assert style_statistic("gram", style)(image).item() == pytest.approx(expected)


def test_sliced_wasserstein_by_hand():
    # One channel, one direction: sorted image (0, 1, 2) against sorted style (1, 2, 3): mean (1^2 + 1^2 + 1^2) / 3.
    style = torch.tensor([3.0, 1.0, 2.0]).view(1, 1, 1, 3)
    image = torch.tensor([2.0, 0.0, 1.0]).view(1, 1, 1, 3)
    loss = SlicedStatistic(flatten(style), torch.ones(1, 1))
    assert loss(image).item() == pytest.approx(1.0)
    # A style of another size is compared quantile by quantile: (0, 2) at 4 positions -> 0, 0.5, 1.5, 2.
    assert resample_sorted(torch.tensor([[0.0], [2.0]]), 4)[:, 0].tolist() == [0.0, 0.5, 1.5, 2.0]
    small = SlicedStatistic(flatten(torch.tensor([0.0, 2.0]).view(1, 1, 1, 2)), torch.ones(1, 1))
    four = torch.tensor([0.0, 0.0, 2.0, 2.0]).view(1, 1, 1, 4)
    assert small(four).item() == pytest.approx((0 + 0.5**2 + 0.5**2 + 0) / 4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sorted_columns_equal_torch_sort_in_value_and_gradient(dtype):
    values = torch.randn(50, 7, generator=torch.Generator().manual_seed(0), dtype=dtype)
    assert torch.equal(sort_columns(values), values.sort(dim=0).values)
    weights = torch.arange(350, dtype=dtype).view(50, 7)
    ours, theirs = values.clone().requires_grad_(True), values.clone().requires_grad_(True)
    (sort_columns(ours) * weights).sum().backward()
    (theirs.sort(dim=0).values * weights).sum().backward()
    assert torch.equal(ours.grad, theirs.grad)


def test_sorting_columns_never_changes_its_input():
    rows = torch.randn(7, 50, generator=torch.Generator().manual_seed(0))
    values = rows.t()  # (50, 7) whose columns are rows in memory: the sort's own layout
    before = values.clone()
    assert torch.equal(sort_columns(values), before.sort(dim=0).values)
    assert torch.equal(values, before)


def test_sorted_projections_are_the_sorted_columns_of_the_product():
    flat = torch.randn(300, 8, generator=torch.Generator().manual_seed(1))
    directions = random_directions(8, 16, 0)
    ours = sorted_projections(flat, directions)
    assert ours.shape == (300, 16)
    assert torch.allclose(ours, sort_columns(flat @ directions), atol=1e-6)
    assert torch.equal(ours, ours.sort(dim=0).values)


def test_sliced_wasserstein_is_deterministic_for_a_seed():
    style, image = features(0, channels=8), features(1, channels=8)
    first, second = make("swd", style, seed=3), make("swd", style, seed=3)
    assert first(image).item() == second(image).item()
    assert first(image).item() == first(image).item()
    assert make("swd", style, seed=4)(image).item() != first(image).item()
    directions = random_directions(8, 16, 3)
    assert torch.allclose(directions.norm(dim=0), torch.ones(16))


def gaussian_positions(mean, deviations, rotation=None) -> torch.Tensor:
    """(1, C, 1, 2^C) features whose positions have exactly ``mean`` and covariance R diag(dev^2) R^T."""
    channels = len(mean)
    signs = torch.tensor([[1.0 if (k >> c) & 1 else -1.0 for c in range(channels)] for k in range(2**channels)],
                         dtype=torch.float64)
    points = signs * torch.tensor(deviations, dtype=torch.float64)
    if rotation is not None:
        points = points @ rotation.T
    points = points + torch.tensor(mean, dtype=torch.float64)
    return points.T.reshape(1, channels, 1, -1)


def test_w2_matches_the_closed_form_for_hand_built_gaussians():
    # Commuting (diagonal) covariances: ||m1 - m2||^2 + sum (s1 - s2)^2.
    image = gaussian_positions([1.0, -2.0], [3.0, 0.5])
    style = gaussian_positions([0.0, 1.0], [1.0, 2.0])
    expected = (1 + 9) + (3 - 1) ** 2 + (0.5 - 2) ** 2
    loss = GaussianStatistic(flatten(style))
    assert loss(image).item() == pytest.approx(expected, rel=1e-9)
    # Rotating both Gaussians' covariances by the same rotation leaves the distance as it is.
    angle = 0.7
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]],
                            dtype=torch.float64)
    rotated = GaussianStatistic(flatten(gaussian_positions([0.0, 1.0], [1.0, 2.0], rotation)))
    assert rotated(gaussian_positions([1.0, -2.0], [3.0, 0.5], rotation)).item() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("kind", STYLE_LOSSES)
def test_gradient_matches_finite_differences(kind):
    style = features(0, channels=3, height=3, width=4, dtype=torch.float64)
    loss = make(kind, style)
    image = features(1, channels=3, height=3, width=4, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(loss, (image,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("kind", STYLE_LOSSES)
def test_statistics_of_parts_combine_to_the_whole_pictures(kind):
    style, image = features(0, channels=4, height=6, width=5), features(1, channels=4, height=6, width=5)
    loss = make(kind, style)
    whole = flatten(image).clone().requires_grad_(True)
    whole_value = loss.distance(loss.measure(whole))
    whole_value.backward()

    # Three parts of the positions (tiles), measured on their own and combined.
    pieces = [piece.detach().clone().requires_grad_(True) for piece in torch.split(flatten(image), [7, 11, 12])]
    with torch.no_grad():
        parts = [loss.measure(piece) for piece in pieces]
    combined = tuple(part.clone().requires_grad_(True) for part in loss.combine(parts))
    value = loss.distance(combined)
    assert value.item() == pytest.approx(whole_value.item(), rel=1e-5)
    gradient = torch.autograd.grad(value, combined, allow_unused=True)
    # Each part's backward on its own, with the combined statistic's gradient, gives the whole gradient.
    for index, piece in enumerate(pieces):
        measured = loss.measure(piece)
        backward_part(measured, loss.tile_gradient(gradient, parts, index))
    assert torch.allclose(torch.cat([piece.grad for piece in pieces]), whole.grad, rtol=1e-4, atol=1e-6)
