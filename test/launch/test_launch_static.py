"""Launch files, params files and node parameters checked statically (``ros2 launch`` is not available here).

Every launch file must name executables that setup.py installs and files that exist; every params file must set
only parameters its node declares, cover all of them, and comment each one.
"""
from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from repo_paths import REPO_ROOT

ROOT = REPO_ROOT
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
CONFIG_FILES = sorted((ROOT / "config").glob("*.yaml"))
IMPLICIT_PARAMETERS = {"use_sim_time"}


def _executables() -> dict[str, str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NODE_EXECUTABLES":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no NODE_EXECUTABLES")


def _string(node: ast.AST):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    def called(call: ast.Call) -> str:
        f = call.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""

    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and called(n) == name]


def _node_modules() -> dict[str, Path]:
    """ROS node name -> module file, from ``super().__init__("name", ...)`` in causal_nodes/nodes."""
    found = {}
    for path in (ROOT / "causal_nodes" / "nodes").glob("*.py"):
        for call in _calls(ast.parse(path.read_text()), "__init__"):
            if call.args and _string(call.args[0]):
                found[_string(call.args[0])] = path
    return found


def _declared(path: Path) -> set[str]:
    """Parameter names a node declares: ``declare(self, "name", ...)``, ``declare_parameter("name", ...)``, or the
    string keys of a module-level ``PARAMETERS = {...}`` table the node declares in a loop."""
    tree = ast.parse(path.read_text())
    names = {_string(c.args[1]) for c in _calls(tree, "declare") if len(c.args) > 1}
    names |= {_string(c.args[0]) for c in _calls(tree, "declare_parameter") if c.args}
    for node in tree.body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)):
            continue
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
        if getattr(target, "id", "") == "PARAMETERS" and isinstance(node.value, ast.Dict):
            names |= {_string(key) for key in node.value.keys if key is not None}
    return {n for n in names if n}


def test_there_are_launch_and_params_files():
    assert {p.name for p in LAUNCH_FILES} >= {"causal_pipeline.launch.py", "sim.launch.py", "replay.launch.py"}
    assert len(CONFIG_FILES) >= 4


@pytest.mark.parametrize("launch_file", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_names_installed_executables_and_existing_files(launch_file: Path):
    tree = ast.parse(launch_file.read_text())
    executables = _executables()
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in ast.walk(tree))
    for call in _calls(tree, "Node"):
        kwargs = {k.arg: k.value for k in call.keywords}
        package = _string(kwargs.get("package")) or "causal_nodes"
        executable = _string(kwargs["executable"])
        if package != "causal_nodes" or executable is None:  # a variable: checked at the helper's call sites
            continue
        assert executable in executables, f"{launch_file.name}: {executable} is not installed by setup.py"
        module = executables[executable].split(":")[0]
        assert importlib.util.find_spec(module) is not None, f"{executable}: module {module} missing"
    for call in _calls(tree, "node"):  # the pipeline's local helper: node(executable, params)
        executable = _string(call.args[0])
        assert executable in executables, f"{launch_file.name}: {executable} is not installed by setup.py"
        assert (ROOT / "config" / f"{_string(call.args[1])}.yaml").is_file()
    for call in _calls(tree, "params_argument"):
        assert (ROOT / "config" / f"{_string(call.args[0])}.yaml").is_file(), f"config/{_string(call.args[0])}.yaml"
    for call in _calls(tree, "join"):  # os.path.join(share, "<folder>", "<file>")
        parts = [_string(a) for a in call.args[1:]]
        if all(parts) and parts:
            assert (ROOT.joinpath(*parts)).is_file(), f"{launch_file.name}: {'/'.join(parts)} does not exist"


@pytest.mark.parametrize("config_file", CONFIG_FILES, ids=lambda p: p.name)
def test_params_file_matches_declared_parameters(config_file: Path):
    data = yaml.safe_load(config_file.read_text())
    modules = _node_modules()
    for key, section in data.items():
        assert key.startswith("/**/"), f"{config_file.name}: key {key!r} must be /**/<node> to apply in any namespace"
        node_name = key.removeprefix("/**/")
        assert node_name in modules, f"{config_file.name}: no node named {node_name} (known: {sorted(modules)})"
        given = set(section["ros__parameters"])
        declared = _declared(modules[node_name]) | IMPLICIT_PARAMETERS
        assert given <= declared, f"{config_file.name}: {sorted(given - declared)} not declared by {node_name}"
        missing = _declared(modules[node_name]) - given
        assert not missing, f"{config_file.name}: parameters of {node_name} not in the file: {sorted(missing)}"


@pytest.mark.parametrize("config_file", CONFIG_FILES, ids=lambda p: p.name)
def test_every_parameter_is_commented(config_file: Path):
    key = re.compile(r"^\s{4}(\w+):")
    last_structural = None
    for number, line in enumerate(config_file.read_text().splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            last_structural = "comment"
        elif key.match(line):
            assert last_structural in ("comment", "key"), f"{config_file.name}:{number}: {stripped} has no comment"
            last_structural = "key"
        elif not stripped:
            last_structural = None


def test_rviz_config_shows_the_causal_topics():
    text = (ROOT / "rviz" / "causal_nodes.rviz").read_text()
    config = yaml.safe_load(text)
    topics = {d.get("Topic", {}).get("Value") for d in config["Visualization Manager"]["Displays"]}
    assert {"/causal/graph_markers", "/causal/graph_image", "/causal/intervention_markers"} <= topics


@pytest.mark.parametrize("launch_file", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_launch_file_takes_a_namespace_and_remaps_for_every_node(launch_file: Path):
    tree = ast.parse(launch_file.read_text())
    assert _calls(tree, "namespace_arguments"), f"{launch_file.name}: no namespace/remap arguments"
    for call in _calls(tree, "Node"):
        keywords = {k.arg for k in call.keywords}
        assert {"namespace", "remappings"} <= keywords, f"{launch_file.name}:{call.lineno}: Node lacks namespace/remaps"


def test_launch_helpers_parse_remaps_and_move_rviz_topics_into_the_namespace():
    pytest.importorskip("launch.actions", reason="launch comes from ../shared/ros2_src (scripts/env.sh) or apt")
    from causal_nodes.nodes.launching import TF_REMAPS, parse_remaps, rviz_topic_remaps

    assert parse_remaps(" people:=/tracker/people  /scan:=front/scan ") == [
        ("people", "/tracker/people"), ("/scan", "front/scan")]
    with pytest.raises(ValueError, match="not FROM:=TO"):
        parse_remaps("people=/tracker/people")
    rviz = rviz_topic_remaps(ROOT / "rviz" / "causal_nodes.rviz")
    assert ("/causal/graph_markers", "causal/graph_markers") in rviz and ("/scan", "scan") in rviz
    assert all(rule in rviz for rule in TF_REMAPS)


def test_discovery_preset_overrides_follow_the_preset_and_the_users_variables_file(tmp_path: Path):
    """discovery_preset:=hri: the discovery node gets the preset's parameters, and the variables node's own list
    (from the params file the launch uses, not the shipped one, for the node's namespace) gets the regime label
    appended once."""
    from causal_nodes.discovery.presets import PRESETS
    from causal_nodes.nodes.params_files import params_file_value
    from causal_nodes.nodes.preset_parameters import discovery_preset_overrides

    shipped = ROOT / "config" / "variables.yaml"
    discovery, variables = discovery_preset_overrides("hri", [shipped])
    assert discovery == PRESETS["hri"].parameters and discovery["test"] == "rcot"
    assert variables["variables"] == [*params_file_value([shipped], "/variables_node", "variables"), "closing_speed"]
    mine = tmp_path / "mine.yaml"
    mine.write_text("/**:\n  ros__parameters:\n    variables: [robot_linear_speed]\n"
                    "/robot1/variables_node:\n  ros__parameters:\n    variables: [human_speed, closing_speed]\n")
    # robot1's key comes last in the file and names it: closing_speed is already there, nothing to add
    assert discovery_preset_overrides("hri", [shipped, mine], "robot1")[1] == {}
    # any other namespace gets /** from the file
    assert discovery_preset_overrides("hri", [mine], "/robot2")[1] == {"variables": ["robot_linear_speed",
                                                                                     "closing_speed"]}
    assert discovery_preset_overrides(" ", [mine]) == ({}, {})
    assert discovery_preset_overrides("general", [mine]) == ({}, {})
    with pytest.raises(ValueError, match="unknown discovery preset 'fast'; known: \\['general', 'hri'\\]"):
        discovery_preset_overrides("fast", [shipped])
    with pytest.raises(ValueError, match="discovery preset auto chooses by the scenario"):
        discovery_preset_overrides("auto", [shipped])
    assert params_file_value([mine], "/variables_node", "rate_hz") is None
