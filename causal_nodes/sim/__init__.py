"""ROS-free human-robot spatial interaction simulator with known causal ground truth.

* :class:`PhysicalSimulator` -- social-force crowd, differential-drive robot, laser scan, camera, IMU, odometry;
* :class:`SCMSimulator` -- synthetic lagged structural causal models;
* :func:`load_scenario` / :class:`Scenario` -- YAML scenarios with ``ground_truth()`` links ``(source, target, lag)``;
* :class:`Intervention` + :func:`compare_intervention` -- interventional ground truth from one seed.

See ``docs/simulator.md`` and ``sim/README.md``.
"""
from .experiments import InterventionComparison, VariableSeries, compare_intervention, run_scenario
from .interventions import PHYSICAL_INTERVENABLE, Intervention
from .mechanism_graph import physical_ground_truth, shortest_lags
from .physical import PhysicalSimulator
from .scenario import (
                       Scenario,
                       default_demo_scenario,
                       list_scenarios,
                       load_scenario,
                       make_scm_scenario,
                       scenario_from_dict,
)
from .scm import SCMLink, SCMSimulator, SCMSpec, expected_do_effect, random_scm
from .truth_variables import PIPELINE_VARIABLES, state_variables

__all__ = [
    "Intervention",
    "InterventionComparison",
    "PHYSICAL_INTERVENABLE",
    "PIPELINE_VARIABLES",
    "PhysicalSimulator",
    "SCMLink",
    "SCMSimulator",
    "SCMSpec",
    "Scenario",
    "VariableSeries",
    "compare_intervention",
    "default_demo_scenario",
    "expected_do_effect",
    "list_scenarios",
    "load_scenario",
    "make_scm_scenario",
    "physical_ground_truth",
    "random_scm",
    "run_scenario",
    "scenario_from_dict",
    "shortest_lags",
    "state_variables",
]
