"""RFM scores and named segments, vectorised (no Django).

Scores are quantile bins of the percentile rank (ties share the lowest rank of their group, so the many
one-time buyers all get the lowest frequency score rather than being split arbitrarily across bins). Recency is reversed: the most recent
buyers get the highest score. Segments are read from a 5 × 5 grid of the recency score and the mean of the
frequency and monetary scores, rescaled to five levels whatever the number of bins.
"""

from __future__ import annotations

import numpy as np
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Segment(models.TextChoices):
    # the Chinese names follow the RFM value-customer vocabulary (重要价值/发展/保持/挽留客户) where it fits
    CHAMPIONS = "champions", pgettext_lazy("RFM segment", "Champions")
    LOYAL = "loyal", pgettext_lazy("RFM segment", "Loyal")
    POTENTIAL_LOYALIST = "potential_loyalist", pgettext_lazy("RFM segment", "Potential loyalist")
    NEW = "new", pgettext_lazy("RFM segment", "New customer")
    PROMISING = "promising", pgettext_lazy("RFM segment", "Promising")
    NEED_ATTENTION = "need_attention", pgettext_lazy("RFM segment", "Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", pgettext_lazy("RFM segment", "About to sleep")
    AT_RISK = "at_risk", pgettext_lazy("RFM segment", "At risk")
    CANT_LOSE = "cant_lose", pgettext_lazy("RFM segment", "Can't lose")
    HIBERNATING = "hibernating", pgettext_lazy("RFM segment", "Hibernating")
    LOST = "lost", pgettext_lazy("RFM segment", "Lost")


S = Segment
# rows: recency level 1 (long ago) … 5 (recent); columns: frequency-and-monetary level 1 … 5
SEGMENT_GRID = np.array(
    [
        [S.LOST, S.LOST, S.AT_RISK, S.CANT_LOSE, S.CANT_LOSE],
        [S.HIBERNATING, S.HIBERNATING, S.AT_RISK, S.AT_RISK, S.CANT_LOSE],
        [S.ABOUT_TO_SLEEP, S.ABOUT_TO_SLEEP, S.NEED_ATTENTION, S.LOYAL, S.LOYAL],
        [S.PROMISING, S.POTENTIAL_LOYALIST, S.POTENTIAL_LOYALIST, S.LOYAL, S.CHAMPIONS],
        [S.NEW, S.POTENTIAL_LOYALIST, S.POTENTIAL_LOYALIST, S.CHAMPIONS, S.CHAMPIONS],
    ],
    dtype=object,
)
SEGMENT_CODES = np.array([str(v) for v in SEGMENT_GRID.ravel()], dtype=object).reshape(5, 5)

#: what each segment asks for (shown on the analytics page)
ADVICE = {
    S.CHAMPIONS: _("Reward them; early access and referrals."),
    S.LOYAL: _("Upsell higher-value products; ask for reviews."),
    S.POTENTIAL_LOYALIST: _("Offer membership or loyalty programmes."),
    S.NEW: _("Onboard well; build the relationship early."),
    S.PROMISING: _("Create brand awareness; free trials."),
    S.NEED_ATTENTION: _("Limited-time offers based on past purchases."),
    S.ABOUT_TO_SLEEP: _("Share valuable resources; reconnect before they drift away."),
    S.AT_RISK: _("Personal emails and calls to reconnect; renewals."),
    S.CANT_LOSE: _("Win them back: a visit or call from their account manager."),
    S.HIBERNATING: _("Offer other relevant products and special discounts."),
    S.LOST: _("Revive interest with a reach-out campaign, or ignore."),
}


def quantile_scores(values, bins: int, *, reverse: bool = False) -> np.ndarray:
    """Scores 1…bins from the share of customers ranked below each value. Ties take the lowest rank of their
    group, so all one-time buyers share the lowest frequency score."""
    from scipy import stats  # here: the customers app imports this module for the segment names

    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return np.zeros(0, dtype=np.int16)
    ranks = stats.rankdata(values, method="min")
    below = (ranks - 1) / values.size
    scores = np.clip(np.floor(below * bins) + 1, 1, bins).astype(np.int16)
    # reversed (recency: fewer days is better): the most recent buyers, ties included, get the top score
    return (bins + 1 - scores).astype(np.int16) if reverse else scores


def _level(scores: np.ndarray, bins: int) -> np.ndarray:
    """Rescale 1…bins to 1…5 for the segment grid."""
    return np.clip(np.ceil(np.asarray(scores, dtype=float) * 5 / bins), 1, 5).astype(int)


def rfm_scores(recency_days, frequency, monetary, *, bins: int = 5):
    """(r, f, m, segment codes) for arrays of recency (days), frequency and monetary value."""
    if bins < 2:
        raise ValueError("at least two bins are needed")
    r = quantile_scores(recency_days, bins, reverse=True)
    f = quantile_scores(frequency, bins)
    m = quantile_scores(monetary, bins)
    if r.size == 0:
        return r, f, m, np.zeros(0, dtype=object)
    fm = (f.astype(float) + m.astype(float)) / 2
    segments = SEGMENT_CODES[_level(r, bins) - 1, _level(fm, bins) - 1]
    return r, f, m, segments
