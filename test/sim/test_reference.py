"""The interventional reference: actuators move what they claim, holds restore, and the stored graphs are confirmed
by fresh do() experiments (every link above the noise band, every non-link below it) on seeds never used to
derive them."""
from __future__ import annotations

import numpy as np
import pytest

from causal_nodes.sim import load_scenario
from causal_nodes.sim.reference import (
    ACTUATORS,
    DEFAULT_DERIVATION_SEEDS,
    SPREAD_BAND,
    UNITS,
    confirm_reference,
    derive_effects,
    derive_reference,
    derive_references,
    effect_unit,
    graph_from_effects,
    load_stored,
    reference_for,
    stored_path,
)
from causal_nodes.sim.truth_variables import state_variables
from causal_nodes.variables.extractor import DEFAULT_VARIABLES, LEGACY_VARIABLES

FRESH_SEED = 7  # never a derivation seed
CONFIRM_FACTOR = 2.0
"""Fresh experiments (fewer of them, another seed) must put a link above band / 2 and a non-link below 2 x band."""


def _sim_at(name: str, steps: int = 40):
    sim = load_scenario(name).make_simulator(seed=3)
    for _ in range(steps):
        sim.step()
    return sim


@pytest.mark.parametrize("variable", sorted(ACTUATORS))
def test_each_actuator_moves_its_variable(variable: str) -> None:
    sim = _sim_at("overtaking")
    before = state_variables(sim)[variable]
    ACTUATORS[variable].apply(sim, 1e-4)
    sim.refresh_observations()
    after = state_variables(sim)[variable]
    assert after != pytest.approx(before, abs=1e-7), f"{ACTUATORS[variable].what} did not move {variable}"


def test_dependent_variables_are_rejected_naming_the_problem() -> None:
    scenario = load_scenario("corridor_passing")
    names = ["robot_linear_speed", "human_robot_distance", "human_bearing", "lateral_offset"]
    with pytest.raises(ValueError, match="functions of the others"):
        derive_effects(scenario, names, [5], stride=100)


def test_a_robot_blind_person_has_no_in_links_from_the_robot() -> None:
    """crossing: the pedestrian ignores the robot, so do() on the robot's speeds does not reach the person.

    Not exactly zero: holding the distance after do() on the robot moves the person (the distance's actuator), a
    change of the person's place far below the band (< 10 % of it) that reaches them through their own goal-
    seeking (the person walks from a slightly different place)."""
    scenario = load_scenario("crossing")
    names = ["human_speed", "human_heading_rate", "human_goal_distance", "robot_linear_speed", "robot_angular_speed",
             "human_robot_distance"]
    stats = derive_effects(scenario, names, [5], stride=60)
    r = stats.effect_sizes()
    for robot in ("robot_linear_speed", "robot_angular_speed"):
        for person in ("human_speed", "human_heading_rate", "human_goal_distance"):
            assert np.nanmax(r[names.index(robot), names.index(person)]) < 0.1, (robot, person)
    # and the robot does react to the person (slows down and steers away from them)
    assert np.nanmax(r[names.index("human_robot_distance"), names.index("robot_linear_speed")]) >= 1.0


@pytest.mark.parametrize("name, variables, unit", [("corridor_passing", LEGACY_VARIABLES, "noise"),
                                                   ("crossing", DEFAULT_VARIABLES, "noise"),
                                                   ("crossing", DEFAULT_VARIABLES, "spread")])
def test_stored_reference_is_confirmed_by_fresh_do_experiments(name: str, variables, unit: str) -> None:
    scenario = load_scenario(name)
    stored = load_stored(name, list(variables), unit)
    assert stored is not None, f"run: causal-nodes reference {name} [--legacy] --unit {unit} --write"
    assert stored.unit == unit
    assert FRESH_SEED not in stored.seeds and stored.band and stored.links
    check = confirm_reference(scenario, stored, [FRESH_SEED], factor=CONFIRM_FACTOR, stride=20)
    assert not check.weak, f"reference links not confirmed by do() on seed {FRESH_SEED}: {check.weak}"
    assert not check.strong, f"non-links that do() on seed {FRESH_SEED} says are links: {check.strong}"
    assert check.candidates == len(stored.variables) ** 2 * (stored.tau_max + 1) - len(stored.variables)


def test_derivation_is_reproducible_and_restricts_by_lag() -> None:
    scenario = load_scenario("approach_standing")
    names = ["human_robot_distance", "robot_linear_speed", "robot_angular_speed", "human_speed"]
    first = derive_reference(scenario, names, seeds=[9], stride=60)
    again = derive_reference(scenario, names, seeds=[9], stride=60)
    assert first.links == again.links and first.effects == again.effects
    assert ("human_robot_distance", "robot_linear_speed", 1) in first.links, "slow near people"
    short = first.restricted(names, tau_max=1)
    assert short.links == {link for link in first.links if link[2] <= 1}
    links, _ = graph_from_effects(derive_effects(scenario, names, [9], stride=60), band=1e9)
    assert not links, "no effect clears an enormous band"
    assert DEFAULT_DERIVATION_SEEDS and FRESH_SEED not in DEFAULT_DERIVATION_SEEDS


# ---------------------------------------------------------------------------------------------- effect units
_TINY = ["human_robot_distance", "robot_linear_speed", "robot_angular_speed", "human_speed"]


@pytest.fixture(scope="module")
def tiny_effects():
    """One seed, every 60th step: a few seconds."""
    return derive_effects(load_scenario("approach_standing"), _TINY, [9], stride=60)


def test_an_unknown_unit_is_refused_naming_the_known_ones(tiny_effects) -> None:
    for call in (lambda: effect_unit("sd"), lambda: tiny_effects.effect_sizes(unit="sd"),
                 lambda: graph_from_effects(tiny_effects, unit="sd"),
                 lambda: load_stored("crossing", list(DEFAULT_VARIABLES), "sd"),
                 lambda: stored_path("crossing", list(DEFAULT_VARIABLES), "sd"),
                 lambda: reference_for(load_scenario("crossing"), list(DEFAULT_VARIABLES), 3, "sd")):
        with pytest.raises(ValueError, match=r"unknown effect unit 'sd'; known: \['noise', 'spread'\]"):
            call()


def test_the_spread_unit_rescales_the_same_experiments_by_the_targets_noise_to_spread(tiny_effects) -> None:
    """r_spread = r_noise * noise_to_spread(Y) wherever no cap binds (uncapped: everywhere)."""
    ratio = tiny_effects.noise_to_spread()
    noise = tiny_effects.effect_sizes(cap=np.inf, unit="noise")
    spread = tiny_effects.effect_sizes(cap=np.inf, unit="spread")
    assert np.all(np.isfinite(ratio)) and np.all(ratio > 0)
    assert np.allclose(spread, noise * ratio[None, :, None], equal_nan=True, rtol=1e-9, atol=0)
    capped = tiny_effects.effect_sizes(unit="spread")  # the unit's cap: never more than uncapped, never above it
    finite = np.isfinite(capped)
    assert np.all(capped[finite] <= spread[finite] + 1e-12) and np.nanmax(capped) <= UNITS["spread"].cap
    links, effects = graph_from_effects(tiny_effects, unit="spread")
    assert links == {link for link, r in effects.items() if r >= SPREAD_BAND}
    assert links != graph_from_effects(tiny_effects, unit="noise")[0], "the two units draw different graphs here"


def test_both_units_come_from_one_derivation_with_their_own_kind_band_and_file() -> None:
    scenario = load_scenario("approach_standing")
    both = derive_references(scenario, _TINY, units=("noise", "spread"), seeds=[9], stride=60)
    noise, spread = both["noise"], both["spread"]
    assert (noise.kind, noise.band, noise.unit) == ("interventional", 1.0, "noise")
    assert (spread.kind, spread.band, spread.unit) == ("interventional-spread", SPREAD_BAND, "spread")
    assert noise.variables == spread.variables and noise.seeds == spread.seeds
    assert set(noise.effects) == set(spread.effects), "the same experiments: the same nonzero effects"
    single = derive_reference(scenario, _TINY, seeds=[9], stride=60, unit="spread")
    assert single.links == spread.links and single.effects == spread.effects
    assert stored_path("crowd", DEFAULT_VARIABLES, "spread").name == "crowd.spread.json"
    assert stored_path("crowd", LEGACY_VARIABLES, "spread").name == "crowd.legacy.spread.json"
    assert stored_path("crowd", DEFAULT_VARIABLES).name == "crowd.json"


@pytest.mark.parametrize("name", ["corridor_passing", "crossing", "overtaking", "approach_standing", "crowd"])
def test_stored_spread_references_load_marked_and_the_default_is_unchanged(name: str) -> None:
    scenario = load_scenario(name)
    for variables in (DEFAULT_VARIABLES, LEGACY_VARIABLES):
        spread = load_stored(name, list(variables), "spread")
        noise = load_stored(name, list(variables))
        assert spread is not None, f"run: causal-nodes reference {name} [--legacy] --unit spread --write"
        assert noise is not None and noise.kind == "interventional" and noise.band == 1.0
        assert spread.kind == "interventional-spread" and spread.band == SPREAD_BAND and spread.unit == "spread"
        assert spread.variables == noise.variables and spread.seeds == noise.seeds == list(DEFAULT_DERIVATION_SEEDS)
        assert all(r >= SPREAD_BAND for link, r in spread.effects.items() if link in spread.links)
    assert scenario.reference().kind == "interventional"
    assert scenario.reference(unit="spread").kind == "interventional-spread"
