"""kehu.core.runtime.tune_gc: the web worker's collector settings (and the switch that turns them off)."""

from __future__ import annotations

import gc

import pytest

from kehu.core import runtime


@pytest.fixture
def restore_gc():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tune_gc_freezes_the_start_up_heap_and_raises_the_young_threshold(restore_gc, monkeypatch):
    monkeypatch.delenv("KEHU_GC_TUNING", raising=False)
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    assert runtime.tune_gc() is True
    assert gc.get_threshold() == (runtime.YOUNG_THRESHOLD, 20, 20)
    assert gc.get_freeze_count() > 10_000  # the loaded modules, classes, templates...
    assert gc.isenabled()  # cycles made by requests are still collected


def test_tune_gc_can_be_turned_off(restore_gc, monkeypatch):
    monkeypatch.setenv("KEHU_GC_TUNING", "0")
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    assert runtime.tune_gc() is False
    assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0
