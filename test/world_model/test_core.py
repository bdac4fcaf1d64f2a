"""World model core without ONNX: cache policy, frames, slot assignment, ETH/UCY reading, CV."""
import numpy as np
import pytest

from causal_nodes.eth_ucy import read_eth_ucy
from causal_nodes.evaluation.trajectories import constant_velocity
from causal_nodes.world_model.cache_policy import StreamingCachePolicy
from causal_nodes.world_model.eth_ucy import load_windows, scene_files
from causal_nodes.world_model.frames import actions_from_track, integrate_unicycle, vectors_to_robot, world_to_robot
from causal_nodes.world_model.slots import SlotAssigner


def test_cache_policy_sinks_then_ring_and_bounded_ages():
    pol = StreamingCachePolicy(sinks=2, window=3, batch=1, people=2)
    mask = np.ones((1, 2), bool)
    slots = []
    for _ in range(1000):
        plan = pol.plan(mask)
        assert plan.past_age.max() <= 3 and plan.past_age.min() >= 0
        assert plan.write_onehot.sum() == 1 and plan.write_onehot[plan.slot] == 1
        assert plan.past_valid.shape == (1, 2, 5)
        assert plan.past_valid[..., plan.slot].sum() == 0  # evicted slot is never attended
        slots.append(plan.slot)
        pol.commit(mask)
    assert slots[:8] == [0, 1, 2, 3, 4, 2, 3, 4]
    assert pol.valid.shape == (1, 2, 5) and pol.valid.all()  # every slot filled, nothing grows


def test_cache_policy_clears_history_of_new_and_leaving_people():
    pol = StreamingCachePolicy(sinks=1, window=4, batch=1, people=2)
    both = np.ones((1, 2), bool)
    for _ in range(3):
        pol.commit(both)
    only0 = np.array([[True, False]])
    plan = pol.plan(only0)
    assert plan.past_valid[0, 0].sum() == 3 and plan.past_valid[0, 1].sum() == 0
    pol.commit(only0)
    plan = pol.plan(both)  # person 1 comes back: a new track, no history
    assert plan.past_valid[0, 1].sum() == 0 and plan.past_valid[0, 0].sum() == 4


def test_cache_policy_rollout_reads_without_writing_and_checks_horizon():
    pol = StreamingCachePolicy(sinks=1, window=3, batch=1, people=1)
    m = np.ones((1, 1), bool)
    for _ in range(5):
        pol.commit(m)
    valid, age = pol.plan_rollout(m, 3)
    assert valid.shape == (1, 1, 4) and age.shape == (3, 4)
    step0 = pol.plan(m)
    np.testing.assert_array_equal(valid, step0.past_valid)  # step 0 is a live step: its slot is evicted
    assert valid[0, 0, step0.slot] == 0 and valid.sum() == 3
    # imagined steps write nothing: the cached steps only grow older (capped at the window bucket)
    np.testing.assert_array_equal(age[1], np.minimum(age[0] + 1, 3))
    np.testing.assert_array_equal(age[2], np.minimum(age[0] + 2, 3))
    pol.commit(m)  # what step 0 leaves behind is what a read-only step sees, at the same ages
    read = pol.plan_read(m, 1)
    assert read.write_onehot.sum() == 0 and read.past_valid.sum() == 4
    np.testing.assert_array_equal(np.delete(read.past_age, step0.slot), np.delete(age[2], step0.slot))
    assert read.past_age[step0.slot] == 2  # step 0's entry, two imagined steps later
    with pytest.raises(ValueError, match="horizon"):
        pol.plan_rollout(m, 4)
    with pytest.raises(ValueError, match="mask"):
        pol.plan(np.ones((1, 2), bool))


def test_unicycle_replays_a_pedestrian_track():
    t = np.arange(12) * 0.4
    track = np.stack([np.cos(0.3 * t) * 3, np.sin(0.3 * t) * 3 + 0.5 * t], axis=1)
    poses, actions = actions_from_track(track, 0.4)
    replay = integrate_unicycle(actions, 0.4)
    start = poses[0]
    replay_world = start[:2] + np.stack([np.cos(start[2]) * replay[:, 0] - np.sin(start[2]) * replay[:, 1],
                                         np.sin(start[2]) * replay[:, 0] + np.cos(start[2]) * replay[:, 1]], 1)
    np.testing.assert_allclose(replay_world, track, atol=1e-9)


def test_world_to_robot_rep103():
    pose = np.array([1.0, 2.0, np.pi / 2])  # robot faces world +y
    p = world_to_robot(np.array([[1.0, 3.0], [0.0, 2.0]]), pose)
    np.testing.assert_allclose(p, [[1.0, 0.0], [0.0, 1.0]], atol=1e-12)  # ahead; world -x is the robot's left
    np.testing.assert_allclose(vectors_to_robot(np.array([0.0, 1.0]), np.pi / 2), [1.0, 0.0], atol=1e-12)


def test_slot_assigner_keeps_slots_keeps_nearest_and_cools_down():
    sa = SlotAssigner(p_max=2)
    def st(*xs):
        return np.array([[x, 0, 0, 0] for x in xs], float)
    people, mask, slots = sa.assign(["a", "b", "c"], st(1.0, 5.0, 2.0))
    assert mask.sum() == 2 and slots[1] == -1  # the farthest is dropped
    sa_a, sa_c = slots[0], slots[2]
    people, mask, slots = sa.assign(["c", "a"], st(2.0, 1.0))
    assert (slots == [sa_c, sa_a]).all()  # ids keep their slots
    people, mask, slots = sa.assign(["a", "d"], st(1.0, 3.0))
    assert slots[1] == -1 and mask.sum() == 1  # c's slot cools down for one step
    people, mask, slots = sa.assign(["a", "d"], st(1.0, 3.0))
    assert slots[1] == sa_c and people[sa_c, 0] == 3.0
    with pytest.raises(ValueError, match="unique"):
        sa.assign(["a", "a"], st(1.0, 2.0))
    with pytest.raises(ValueError, match="states"):
        sa.assign(["a"], np.zeros((1, 3)))


def test_trajectory_file_errors_and_windows(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 3\n")
    with pytest.raises(ValueError, match="expected 4 fields"):
        read_eth_ucy(bad)
    with pytest.raises(ValueError, match="not found"):
        read_eth_ucy(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="no \\*.txt"):
        scene_files(tmp_path, "eth", "test")
    with pytest.raises(ValueError, match="unknown scene"):
        scene_files(tmp_path, "mars", "test")
    good = tmp_path / "good.txt"
    rows = [(f * 10, pid, 0.1 * f, pid) for f in range(22) for pid in (1, 2) if not (pid == 2 and f > 15)]
    good.write_text("".join(f"{f}\t{p}\t{x}\t{y}\n" for f, p, x, y in rows))
    wins = load_windows([good], 20)
    assert len(wins) == 3
    assert list(wins[0].targets) == [0]  # person 2 leaves before the window ends
    assert wins[0].positions.shape == (20, 2, 2)


def test_constant_velocity_extrapolates_last_step():
    obs = np.stack([np.arange(8) * 0.5, np.zeros(8)], -1)[None]
    pred = constant_velocity(obs, 3)
    np.testing.assert_allclose(pred[0], [[4.0, 0], [4.5, 0], [5.0, 0]])
