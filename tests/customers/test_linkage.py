"""The record-linkage engine on a small seeded synthetic corpus (tests/bench/corpus.py): a regression in blocking,
comparisons or the EM model drops recall or precision below the floors and fails `make test`. The full-size
figures are in docs/benchmarks.md (tests/bench/bench_linkage.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from kehu.customers import identity, linkage
from tests.bench.corpus import Config, evaluate, generate


def _found(rows):
    rec = linkage.build(rows)
    result = linkage.link(rec)
    ids = rec.ids
    return {
        (min(a, b), max(a, b))
        for a, b in zip(ids[result.left].tolist(), ids[result.right].tolist(), strict=True)
    }


def test_people_without_phone_or_email():
    corpus = generate(Config(entities=450, seed=11, contacts=False, organisations=0.0))
    assert 200 <= len(corpus.truth) <= 400  # ~300 corrupted pairs
    score = evaluate(_found(corpus.rows), corpus.truth)
    assert score["precision"] >= 0.97, score
    assert score["recall"] >= 0.75, score


def test_people_and_organisations_sharing_a_phone_or_email():
    corpus = generate(Config(entities=450, seed=12, shared_contact=1.0))
    score = evaluate(_found(corpus.rows), corpus.truth)
    assert score["precision"] >= 0.97, score
    assert score["recall"] >= 0.93, score


def test_each_corruption_is_still_found():
    base = {"kind": "person", "birthday": dt.date(1980, 3, 14), "street": "文三路90号", "district": "西湖区"}
    rows = [
        {**base, "id": 1, "name": "王小明"},
        {**base, "id": 2, "name": "小明王"},  # swapped
        {**base, "id": 3, "name": "王晓明", "birthday": dt.date(1980, 3, 14)},  # homophone
        {"kind": "person", "id": 4, "name": "John Smith", "birthday": dt.date(1975, 4, 6)},
        {
            "kind": "person",
            "id": 5,
            "name": "Smith John",
            "birthday": dt.date(1975, 6, 4),
        },  # swapped + transposed
        {"kind": "person", "id": 6, "name": "Jon Smith", "birthday": dt.date(1975, 4, 8)},  # typo + one digit
        {"kind": "person", "id": 7, "name": "陳大文", "id_hash": "h1"},
        {"kind": "person", "id": 8, "name": "陈大文", "id_hash": "h1"},  # traditional + same ID number
        {"kind": "person", "id": 9, "name": "李四", "birthday": dt.date(1990, 1, 1)},
    ]
    found = _found(rows)
    for pair in ((1, 2), (1, 3), (4, 5), (4, 6), (7, 8)):
        assert pair in found, pair
    assert not any(9 in pair for pair in found)


def test_reasons_name_the_evidence_with_weights():
    rows = [
        {
            "kind": "person",
            "id": 1,
            "name": "Anna Berg",
            "birthday": dt.date(1980, 3, 4),
            "postcode": "310000",
        },
        {
            "kind": "person",
            "id": 2,
            "name": "Berg Anna",
            "birthday": dt.date(1980, 4, 3),
            "postcode": "310000",
        },
    ]
    rec = linkage.build(rows)
    result = linkage.link(rec)
    reasons = linkage.explain(rec, 0, 1, result.gamma[0], float(result.similarity[0]), result.weights[0])
    codes = [r[0] for r in reasons]
    assert codes[:0] == [] and {"name_swapped", "birth_day_month_swapped", "same_postcode"} <= set(codes)
    assert all(r[2] > 0 for r in reasons)


def test_chinese_address_parsing():
    assert linkage.parse_address("浙江省杭州市西湖区文三路90号") == {
        "province": "浙江",
        "city": "杭州",
        "district": "西湖",
        "street": "文三路90号",
    }
    parsed = linkage.parse_address("北京市朝阳区建国路1号")
    assert (parsed["province"], parsed["city"], parsed["district"]) == ("北京", "北京", "朝阳")


def test_resident_id_numbers():
    number = "11010519491231002X"
    assert identity.clean_id_number("110105 19491231 002x") == number
    assert identity.mask(number) == "1101**********002X"
    assert identity.digest(number) == identity.digest(number) != identity.digest("110105194912310021")
    with pytest.raises(ValidationError):
        identity.clean_id_number("110105194912310021")  # wrong check digit
    with pytest.raises(ValidationError):
        identity.clean_id_number("110105194913310028")  # month 13


def _filler(n: int) -> list[dict]:
    surnames, given = "王李张刘陈杨黄赵吴周", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"[:20]
    return [
        {
            "kind": "person",
            "id": 1000 + k,
            "name": surnames[k % 10] + given[k % 20] + given[(k // 20) % 20],
            "birthday": dt.date(1950 + k % 50, 1 + k % 12, 1 + k % 28),
        }
        for k in range(n)
    ]


def test_a_rare_name_weighs_more_than_a_common_one():
    # three records of one person named 苏霞波 (the third must not make the name look common), and 王伟强, a
    # combination of frequent parts held by several people
    rows = _filler(3000)
    rows += [{"kind": "person", "id": k, "name": "苏霞波"} for k in (1, 2, 3)]
    rows += [{"kind": "person", "id": k, "name": "王伟强"} for k in (4, 5)]
    rec = linkage.build(rows)
    left, right, _rules = linkage.candidate_pairs(rec)
    gamma, _sim = linkage.compare(rec, left, right)
    model, tf_u = linkage.estimate(rec, left, right, gamma, u=linkage.estimate_u(rec))
    weights = model.pair_weights(gamma, tf_u)[:, linkage.BY_NAME["person_name"]]
    pair = {(int(rec.ids[a]), int(rec.ids[b])): w for a, b, w in zip(left, right, weights, strict=True)}
    rare = pair.get((1, 2), pair.get((2, 1)))
    common = pair.get((4, 5), pair.get((5, 4)))
    assert rare >= 13.5 and rare - common >= 3, (rare, common)


def test_one_name_part_the_same_with_the_same_birth_date():
    rows = _filler(400)
    rows += [
        {"kind": "person", "id": 1, "name": "鄢琳坤", "birthday": dt.date(1961, 2, 22)},
        {"kind": "person", "id": 2, "name": "利琳坤", "birthday": dt.date(1961, 2, 22)},
        {"kind": "person", "id": 3, "name": "谢彬", "birthday": dt.date(1995, 12, 19)},
        {"kind": "person", "id": 4, "name": "Bin Xie", "birthday": dt.date(1995, 12, 19)},
    ]
    found = _found(rows)
    assert (1, 2) in found and (3, 4) in found


def test_blocking_survives_a_character_added_changed_or_dropped():
    rows = _filler(400)
    rows += [
        {"kind": "person", "id": 1, "name": "贾楠"},  # a character added, nothing else known
        {"kind": "person", "id": 2, "name": "贾楠龙"},
        {"kind": "person", "id": 3, "name": "Autumn Carey"},  # a letter inserted
        {"kind": "person", "id": 4, "name": "Auteumn Carey"},
        # surname mistyped and a given character dropped: only 建 and the date of birth are left in common
        {"kind": "person", "id": 5, "name": "凤建", "birthday": dt.date(1979, 3, 3)},
        {"kind": "person", "id": 6, "name": "韩建华", "birthday": dt.date(1979, 3, 3)},
    ]
    rec = linkage.build(rows)
    left, right, per_rule = linkage.candidate_pairs(rec)
    pairs = {tuple(sorted((int(rec.ids[a]), int(rec.ids[b])))) for a, b in zip(left, right, strict=True)}
    assert {(1, 2), (3, 4), (5, 6)} <= pairs
    assert per_rule["char_dob"] >= 1


def test_pairs_implied_through_a_third_record():
    # 0~1 and 1~2 flagged, 2~3 not: 0~2 is implied with P ≥ 0.95 · 0.9, nothing reaches 3
    left, right = np.array([0, 1, 2, 0]), np.array([1, 2, 3, 3])
    prob = np.array([0.95, 0.9, 0.3, 0.01])
    a, b, p, via = linkage.transitive_pairs(5, left, right, prob, 0.6)
    assert a.tolist() == [0] and b.tolist() == [2] and via.tolist() == [1]
    assert p[0] == pytest.approx(0.95 * 0.9)
    # a weak chain does not close: 0.7 · 0.7 < 0.6
    a, _b, _p, _via = linkage.transitive_pairs(5, left, right, np.array([0.7, 0.7, 0.3, 0.01]), 0.6)
    assert len(a) == 0


def test_a_moved_address_counts_once():
    rows = [
        {"kind": "person", "id": 1, "name": "Anna Berg", "street": "文三路90号", "postcode": "310000"},
        {"kind": "person", "id": 2, "name": "Anna Berg", "street": "人民路7号", "postcode": "100010"},
    ]
    rec = linkage.build(rows)
    gamma, _sim = linkage.compare(rec, np.array([0]), np.array([1]))
    address = linkage.COMPARISONS[linkage.BY_NAME["address"]]
    assert address.levels[gamma[0, linkage.BY_NAME["address"]] - 1] == "differs"
    assert "postcode" not in linkage.BY_NAME  # the postcode is a level of the address, not a second vote


def test_processes_share_the_work_and_give_the_serial_result(monkeypatch):
    """Blocking, comparisons and EM in two forked processes (chunks small enough that both do work) give the
    same candidates, levels, model and flagged pairs as one process — bit for bit."""
    monkeypatch.setattr(linkage, "EM_BLOCK", 97)  # several EM blocks per process
    rows = generate(Config(entities=900, seed=21)).rows
    rec = linkage.build(rows)
    serial = linkage.link(rec, workers=1)
    parallel = linkage.link(linkage.build(rows, workers=2), workers=2)  # the features built in two shares too
    assert serial.candidates > 3 * 97 and len(serial.left) > 100
    assert parallel.candidates == serial.candidates and parallel.per_rule == serial.per_rule
    for name in ("left", "right", "probability", "gamma", "similarity", "weights", "via"):
        assert np.array_equal(getattr(parallel, name), getattr(serial, name)), name
    assert parallel.model.rate == serial.model.rate and parallel.model.iterations == serial.model.iterations
    assert all(np.array_equal(a, b) for a, b in zip(parallel.model.m, serial.model.m, strict=True))
    left, right, _rules = linkage.candidate_pairs(rec, workers=1)
    g1, s1 = linkage.compare(rec, left, right, chunk=501, workers=1)
    g2, s2 = linkage.compare(rec, left, right, chunk=501, workers=2)
    assert np.array_equal(g1, g2) and np.array_equal(s1, s2)


def test_a_child_that_fails_has_its_share_redone(monkeypatch):
    import os

    parent = os.getpid()

    def share(start, stop):
        if os.getpid() != parent:
            raise RuntimeError("child dies")
        return list(range(start, stop))

    assert linkage.in_parallel(share, [0, 3, 7]) == [[0, 1, 2], [3, 4, 5, 6]]
    assert linkage.workers_for(10) == 1  # a small set stays in one process
    monkeypatch.setenv("KEHU_LINKAGE_WORKERS", "1")
    assert linkage.workers_for(10**7) == 1


def test_name_only_blocks_shrink_as_the_book_grows():
    assert linkage.block_cap("deletions", 20_000) == linkage.MAX_BLOCK
    assert linkage.block_cap("deletions", linkage.WEAK_BASE) == linkage.MAX_BLOCK
    assert linkage.block_cap("name", 4 * linkage.WEAK_BASE) == linkage.MAX_BLOCK // 2
    assert linkage.block_cap("name", 10**9) == linkage.WEAK_MIN
    # rules with more than the name (date of birth, phone, address…) keep the full cap at any size
    assert linkage.block_cap("char_dob", 10**7) == linkage.block_cap("phone", 10**7) == linkage.MAX_BLOCK
    # on a book past WEAK_BASE (lowered here) a name block between the two caps pairs nobody
    rows = [{"id": i, "kind": "person", "name": "王伟"} for i in range(40)]
    rows += [
        {"id": 100 + i, "kind": "person", "name": f"路人{chr(0x4E00 + i)}{chr(0x4E80 + i)}"}
        for i in range(200)
    ]
    rec = linkage.build(rows)
    assert linkage.candidate_pairs(rec, workers=1)[2]["name"] == 40 * 39 // 2
    import unittest.mock

    with unittest.mock.patch.object(linkage, "WEAK_BASE", 30):
        assert linkage.block_cap("name", len(rec)) == linkage.WEAK_MIN
        assert linkage.candidate_pairs(rec, workers=1)[2]["name"] == 0


def test_a_process_running_other_threads_does_not_fork_by_default(monkeypatch):
    import threading

    monkeypatch.setenv("KEHU_LINKAGE_WORKERS", "2")
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert linkage.workers_for(10**7) == 2
    monkeypatch.setattr(threading, "active_count", lambda: 3)
    assert linkage.workers_for(10**7) == 1
    assert linkage.workers_for(10**7, workers=2) == 2  # asked for explicitly


def test_a_book_built_in_shares_is_the_same_book():
    """build() in two processes renumbers each share's codes into one table: equal strings, equal codes."""
    rows = generate(Config(entities=300, seed=22)).rows
    rows = [{k: v for k, v in r.items() if k != "id"} for r in rows]  # ids by position, across the shares
    one, two = linkage.build(rows, workers=1), linkage.build(rows, workers=2)
    assert np.array_equal(one.ids, two.ids) and two.ids.tolist() == list(range(len(rows)))
    assert one.cols.keys() == two.cols.keys()
    for name, column in one.cols.items():
        other = two.cols[name]
        if name in linkage.VALUE_COLUMNS or column.dtype == bool:
            assert np.array_equal(column, other), name
        else:  # codes: the same strings behind them
            assert [one.texts.get(int(c), "") for c in column.ravel()] == [
                two.texts.get(int(c), "") for c in other.ravel()
            ], name
    assert one.name_key.tolist() == two.name_key.tolist() and one.parts.tolist() == two.parts.tolist()


def _levels(rows, *pairs):
    """The person-name level (by name) of each pair of ids, in a book padded with filler people."""
    rec = linkage.build(_filler(300) + rows)
    index = {int(i): k for k, i in enumerate(rec.ids)}
    a = np.array([index[x] for x, _y in pairs])
    b = np.array([index[y] for _x, y in pairs])
    gamma, _sim = linkage.compare(rec, a, b)
    comp = linkage.COMPARISONS[linkage.BY_NAME["person_name"]]
    return [comp.levels[g - 1] if g else None for g in gamma[:, linkage.BY_NAME["person_name"]]]


def test_name_levels_of_real_variants():
    rows = [
        {"kind": "person", "id": i, "name": name}
        for i, name in enumerate(
            [
                "王凤兰",
                "Fenglan Wang",
                "刘艳",
                "刘岩",
                "帅龙",
                "史玲",
                "Oscar Mcgee",
                "O. Mcgee",
                "罗峰梅",
                "罗英兰",
                "李建鑫",
                "李建军",
                "王洁燕",
                "玉洁燕",
                "赵洋龙",
                "洋龙赵",
            ],
            start=1,
        )
    ]
    assert _levels(rows, (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)) == [
        "transliterated",  # a Chinese name and its pinyin spelling
        "sounds_same",  # two different names that sound alike
        "differs",  # the same pinyin initials of two names in characters are no abbreviation
        "initials",  # a part written as its initial
        "one_part_far",  # the surname shared, the whole given name different: not a typo
        "jw_mid",  # one character apart: similar (Jaro-Winkler 0.8–0.92 on the pinyin)
        "jw_high",  # a look-alike character misread (王 / 玉)
        "swapped",
    ]


def _name_weight(rows, pairs):
    rec = linkage.build(rows)
    left, right, _rules = linkage.candidate_pairs(rec)
    gamma, _sim = linkage.compare(rec, left, right)
    model, tf_u = linkage.estimate(rec, left, right, gamma, u=linkage.estimate_u(rec))
    weights = model.pair_weights(gamma, tf_u)[:, linkage.BY_NAME["person_name"]]
    found = {(int(rec.ids[a]), int(rec.ids[b])): w for a, b, w in zip(left, right, weights, strict=True)}
    return [found.get(p, found.get(p[::-1])) for p in pairs]


def test_a_typo_weighs_by_the_rarity_of_the_part_the_names_share():
    """A one-letter typo in the first name of two … Simmons (a family name nobody else has) says more than a
    typo in the given name of two 王 (the commonest surname of the book); both are the same level."""
    rows = _filler(3000)
    rows += [
        {"kind": "person", "id": 1, "name": "Caitlyn Simmons"},
        {"kind": "person", "id": 2, "name": "Saitlyn Simmons"},
        {"kind": "person", "id": 3, "name": "王建鑫"},
        {"kind": "person", "id": 4, "name": "王建鑫"[:2] + "森"},
    ]
    assert _levels(rows[-4:], (1, 2), (3, 4)) == ["jw_high", "jw_high"]
    rare, common = _name_weight(rows, [(1, 2), (3, 4)])
    assert rare - common >= 4, (rare, common)


def test_a_name_written_another_way_weighs_about_as_much_as_the_same_name():
    """Strangers with the same name show it swapped or in pinyin only through the same writing variant a
    duplicate shows, so the variant costs about a bit, not the several bits of a rarer level."""
    rows = _filler(3000)
    rows += [
        {"kind": "person", "id": 1, "name": "苏霞波"},
        {"kind": "person", "id": 2, "name": "苏霞波"},
        {"kind": "person", "id": 3, "name": "霍晓峰"},
        {"kind": "person", "id": 4, "name": "晓峰霍"},
        {"kind": "person", "id": 5, "name": "闫冬梅"},
        {"kind": "person", "id": 6, "name": "Dongmei Yan"},
        {"kind": "person", "id": 7, "name": "刘艳"},
        {"kind": "person", "id": 8, "name": "刘岩"},
    ]
    exact, swapped, translit, homophone = _name_weight(rows, [(1, 2), (3, 4), (5, 6), (7, 8)])
    assert swapped >= exact - 3 and translit >= exact - 3, (exact, swapped, translit)
    assert translit - homophone >= 4, (translit, homophone)


def _weights(rows, pairs, comparison):
    rec = linkage.build(rows)
    left, right, _rules = linkage.candidate_pairs(rec)
    gamma, _sim = linkage.compare(rec, left, right)
    model, tf_u = linkage.estimate(rec, left, right, gamma, u=linkage.estimate_u(rec))
    weights = model.pair_weights(gamma, tf_u)[:, linkage.BY_NAME[comparison]]
    found = {(int(rec.ids[a]), int(rec.ids[b])): w for a, b, w in zip(left, right, weights, strict=True)}
    return [found.get(p, found.get(p[::-1])) for p in pairs], rec


def test_a_birth_date_weighs_by_how_many_carry_it():
    """u of the same date and of day/month swapped is the frequency of the date the other record would need:
    a swapped date is about as rare as an exact one (200,000 random pairs hold about no swapped dates, so a u
    from them made the swap stronger evidence than the same date), and a placeholder date that many records
    carry says little."""
    rows = _filler(3000)
    person = {"kind": "person"}
    rows += [
        {**person, "id": 1, "name": "欧阳子涵", "birthday": dt.date(1983, 4, 9)},
        {**person, "id": 2, "name": "欧阳子涵", "birthday": dt.date(1983, 4, 9)},
        {**person, "id": 3, "name": "司马文博", "birthday": dt.date(1983, 4, 9)},
        {**person, "id": 4, "name": "司马文博", "birthday": dt.date(1983, 9, 4)},
        {**person, "id": 5, "name": "上官雨萱", "birthday": dt.date(1900, 1, 1)},
        {**person, "id": 6, "name": "上官雨萱", "birthday": dt.date(1900, 1, 1)},
    ]
    rows += [
        {**person, "id": 10 + k, "name": f"诸葛{'明亮清风'[k % 4]}{k}", "birthday": dt.date(1900, 1, 1)}
        for k in range(60)
    ]
    rec = linkage.build(rows)
    index = {int(i): k for k, i in enumerate(rec.ids)}
    left, right = np.array([index[1], index[3], index[5]]), np.array([index[2], index[4], index[6]])
    gamma, _sim = linkage.compare(rec, left, right)
    k = linkage.BY_NAME["birth_date"]
    assert gamma[:, k].tolist() == [1, 2, 1]  # exact, day/month swapped, exact
    u = linkage.term_frequency_u(rec, left, right, gamma, linkage.prior_model(len(rec)))[(k, 1)]
    exact, swapped, placeholder = u.tolist()
    assert 1e-5 <= exact <= 2e-4 and exact / 3 <= swapped <= exact * 3, (exact, swapped)
    assert placeholder >= 8 * exact, (exact, placeholder)


def test_people_sharing_a_name_part_are_counted_as_different_people():
    """P(a typo-like level | two people share a name part) is estimated from sampled carriers of the same part;
    the carriers of a rare part are often one person's records, which the EM weighs out (1 − P(match))."""
    rows = _filler(3000)
    from tests.bench.corpus import WEST_FIRST, WEST_LAST

    for k in range(160):
        name = f"{WEST_FIRST[4 * k]} {WEST_LAST[6 * k]}"
        born = dt.date(1940, 1, 1) + dt.timedelta(days=97 * k)
        rows += [
            {"kind": "person", "id": 2 * k + 1, "name": name, "birthday": born, "street": f"文{k}路{k}号"},
            {"kind": "person", "id": 2 * k + 2, "name": name[:2] + name[3:], "birthday": born},
        ]
    rec = linkage.build(rows)
    left, right, _rules = linkage.candidate_pairs(rec)
    gamma, _sim = linkage.compare(rec, left, right)
    linkage.estimate(rec, left, right, gamma, u=linkage.estimate_u(rec))
    level = linkage.COMPARISONS[linkage.BY_NAME["person_name"]].levels.index("jw_high") + 1
    sampled, weighed = rec.cols["part_level_u0"][level, 1], rec.cols["part_level_u"][level, 1]
    assert weighed < sampled / 3, (sampled, weighed)
