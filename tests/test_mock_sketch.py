"""Bounded counting: Space-Saving bounds, HyperLogLog accuracy, Bloom membership, and the
exact-then-sketch switch of `IdCounter` / `IdSet`."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.mock.sketch import BloomFilter, HyperLogLog, IdCounter, IdSet, SpaceSaving


def _zipf_stream(n: int, ids: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(ids)]
    return [f"user-{i}" for i in rng.choices(range(ids), weights, k=n)]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=400), st.integers(1, 10))
def test_space_saving_bounds_hold(stream: list[int], capacity: int) -> None:
    sketch = SpaceSaving(capacity)
    for number in stream:
        sketch.add(str(number))
    truth = Counter(str(number) for number in stream)
    for item, count, error in sketch.top(capacity):
        assert count - error <= truth[item] <= count  # the documented guarantee
    assert len(sketch.counts) <= capacity
    threshold = len(stream) / capacity
    for name, true_count in truth.items():
        if true_count > threshold:
            assert name in sketch.counts  # every heavy hitter is kept


def test_id_counter_is_exact_below_its_limit() -> None:
    counter = IdCounter(exact_limit=1000, capacity=50)
    stream = _zipf_stream(5000, 500, seed=1)
    for item in stream:
        counter.add(item)
    truth = Counter(stream)
    assert counter.exact
    assert counter.unique() == len(truth)
    assert counter.top(3) == [(i, c, 0) for i, c in truth.most_common(3)]


def test_id_counter_switches_to_sketches_and_keeps_the_hot_ids() -> None:
    counter = IdCounter(exact_limit=2000, capacity=200)
    stream = _zipf_stream(60_000, 20_000, seed=2)
    for item in stream:
        counter.add(item)
    truth = Counter(stream)
    assert not counter.exact
    assert counter.total == len(stream)  # the total stays exact
    assert abs(counter.unique() - len(truth)) < 0.05 * len(truth)
    top = counter.top(5)
    assert [item for item, _, _ in top] == [item for item, _ in truth.most_common(5)]
    for item, count, error in top:
        assert count - error <= truth[item] <= count


def test_hyperloglog_accuracy() -> None:
    hll = HyperLogLog()
    assert hll.estimate() == 0
    for i in range(50_000):
        hll.add(f"id-{i}")
        hll.add(f"id-{i}")  # duplicates do not count
    assert abs(hll.estimate() - 50_000) < 0.03 * 50_000


def test_bloom_filter_has_no_false_negatives_and_few_false_positives() -> None:
    bloom = BloomFilter(bits=1 << 20, hashes=5)
    members = [f"m-{i}" for i in range(20_000)]
    for member in members:
        bloom.add(member)
    assert all(member in bloom for member in members)
    false_positives = sum(f"other-{i}" in bloom for i in range(20_000))
    assert false_positives < 200  # ~0.1% expected at this load


def test_id_set_switches_to_a_bloom_filter() -> None:
    ids = IdSet(exact_limit=100)
    for i in range(99):
        ids.add(f"u{i}")
    assert not ids.approximate and "u5" in ids and "zz" not in ids
    for i in range(99, 300):
        ids.add(f"u{i}")
    assert ids.approximate
    assert all(f"u{i}" in ids for i in range(300))  # nothing identified is forgotten
