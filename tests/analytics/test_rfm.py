from __future__ import annotations

import numpy as np
import pytest
from django.utils import translation

from kehu.analytics import rfm
from kehu.analytics.rfm import Segment


def test_quantile_scores_spread_values_over_the_bins_and_ties_share_a_score():
    scores = rfm.quantile_scores(np.arange(10), 5)
    assert scores.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    tied = rfm.quantile_scores([1, 1, 1, 1, 1, 1, 2, 3, 4, 5], 5)
    assert len(set(tied[:6].tolist())) == 1  # every one-time buyer alike
    assert rfm.quantile_scores([3, 1, 2, 1], 4, reverse=True).tolist() == [1, 4, 2, 4]


def test_configurable_bins():
    r, f, m, seg = rfm.rfm_scores(np.arange(100), np.arange(100), np.arange(100), bins=10)
    assert r.min() == 1 and r.max() == 10 and set(seg) <= set(Segment.values)
    with pytest.raises(ValueError):
        rfm.rfm_scores([1], [1], [1], bins=1)


def test_segments_from_recency_and_value():
    recency = np.array([1, 1, 300, 400, 5, 200])  # days since last purchase
    frequency = np.array([20, 1, 25, 1, 10, 3])
    monetary = np.array([9000, 50, 9500, 40, 5000, 300])
    _, _, _, seg = rfm.rfm_scores(recency, frequency, monetary, bins=5)
    assert seg[0] == Segment.CHAMPIONS  # recent, frequent, big
    assert seg[1] == Segment.NEW  # recent, one small purchase
    assert seg[2] == Segment.CANT_LOSE  # long ago, but the best customer
    assert seg[3] == Segment.LOST  # long ago, one small purchase


def test_empty_input():
    r, f, m, seg = rfm.rfm_scores([], [], [])
    assert r.size == f.size == m.size == seg.size == 0


def test_segment_names_in_chinese_use_the_value_customer_terms():
    with translation.override("zh-hans"):
        assert str(Segment.CHAMPIONS.label) == "重要价值客户"
        assert str(Segment.CANT_LOSE.label) == "重要挽留客户"
        assert str(Segment.AT_RISK.label) == "重要保持客户"
    with translation.override("en"):
        assert str(Segment.CHAMPIONS.label) == "Champions"
