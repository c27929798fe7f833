"""bench/backfill_sim.py on a small bucket: the simulation's invariants hold."""
import importlib.util
import os

import pytest

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "backfill_sim.py")
spec = importlib.util.spec_from_file_location("backfill_sim", PATH)
sim = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sim)

PHOTOS = 2000
ALL = ("labels", "text", "faces")
TPS = dict(sim.DEFAULT_TPS)


@pytest.fixture(scope="module")
def runs():
    return {"A": sim.simulate_a(PHOTOS, ALL, TPS, seed=7), "B": sim.simulate_b(PHOTOS, ALL, TPS, seed=7)}


def test_every_photo_is_indexed_exactly_once_in_both_designs(runs):
    for result in runs.values():
        assert result.indexed == PHOTOS
        assert len(result.writes) == PHOTOS and set(result.writes) == {1}
        assert result.calls == PHOTOS * len(ALL)         # no throttling, so no call is made twice


def test_the_fan_out_is_faster_than_the_hourly_reconciler(runs):
    a, b = runs["A"], runs["B"]
    assert a.runs > 1 and a.wall_s > sim.SCHEDULE_S      # 2,000 photos do not fit in one 870 s run
    assert b.wall_s < a.wall_s / 10
    assert b.invocations == PHOTOS and b.runs == 1


@pytest.mark.parametrize("features", [("labels",), ("labels", "text"), ALL])
def test_concurrency_derived_from_the_quota_is_never_throttled(features):
    result = sim.simulate_b(PHOTOS, features, TPS, seed=3)
    assert result.concurrency == sim.derive_concurrency(features, TPS)
    assert result.throttled == 0 and set(result.writes) == {1}


def test_concurrency_far_above_the_quota_is_throttled_but_still_indexes_each_photo_once():
    derived = sim.derive_concurrency(ALL, TPS)
    result = sim.simulate_b(PHOTOS, ALL, TPS, seed=3, max_concurrency=1000)
    assert result.concurrency == 1000 > 5 * derived
    assert result.throttled > 0 and result.failed_attempts > 0   # some messages went back to the queue
    assert result.invocations > PHOTOS
    assert set(result.writes) == {1}


def test_a_lower_quota_derives_less_concurrency_and_the_same_seed_gives_the_same_run():
    assert sim.derive_concurrency(ALL, {f: 10.0 for f in ALL}) < sim.derive_concurrency(ALL, TPS)
    one, two = (sim.simulate_b(300, ("labels",), TPS, seed=11) for _ in range(2))
    assert (one.wall_s, one.calls, one.events) == (two.wall_s, two.calls, two.events)


def test_the_command_prints_a_table_the_target_and_itself(capsys):
    assert sim.main(["--photos", "300", "--features", "labels,text,faces", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "| design | features | concurrency | wall time (h:mm) |" in out
    assert out.count("| A: hourly reconciler, inline | labels,text,faces |") == 1
    assert "Target (design B, 300 photos, labels,text,faces, under 2:00): met" in out
    assert "Quota needed for the target:" in out
    assert "command: " in out and "bench/backfill_sim.py --photos 300 --features labels,text,faces --seed 2" in out
