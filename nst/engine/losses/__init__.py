"""Losses of a run: the weighted total (:mod:`.terms`) and the style distances it can use (:mod:`.style`)."""
from .style import STYLE_LOSSES, StyleStatistic, style_statistic
from .terms import LOSS_SCALES, ContentLoss, LossTerms, StyleTransferLoss, gram_matrix, total_variation

__all__ = ["LOSS_SCALES", "STYLE_LOSSES", "ContentLoss", "LossTerms", "StyleStatistic", "StyleTransferLoss",
           "gram_matrix", "style_statistic", "total_variation"]
