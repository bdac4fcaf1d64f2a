"""The Foxglove layout of the causal view, built with ``foxglove.layouts`` (the SDK's typed layout model, so the
JSON has the format the app imports). ``foxglove/causal_nodes.json`` is this layout for the root namespace;
``causal-nodes view --layout FILE --namespace robot1`` writes one for a namespaced robot.

Panels: 3D (fixed frame ``odom``: graph and intervention markers, predicted paths, scan, people), the rendered
graph image, plots of the causal variables (from the bridge's ``causal/variables_by_name`` JSON channel), and the
newest graph and interventions as raw messages.
"""
from __future__ import annotations

PLOTTED_VARIABLES = ("human_robot_distance", "collision_risk", "human_speed", "robot_linear_speed",
                     "robot_angular_speed", "min_scan_range")
FIXED_FRAME = "odom"


def layout_json(namespace: str = "") -> str:
    import foxglove.layouts as fl

    ns = "/" + namespace.strip("/") if namespace.strip("/") else ""

    def topic(name: str) -> str:
        return f"{ns}/{name}"

    markers = fl.BaseRendererRosMarkerTopicSettings(visible=True)
    scene = fl.ThreeDeePanel(title="Scene (odom)", config=fl.ThreeDeeConfig(
        follow_tf=FIXED_FRAME,
        topics={topic("causal/graph_markers"): markers, topic("causal/intervention_markers"): markers,
                topic("world_model/markers"): markers,
                topic("scan"): fl.BaseRendererLaserScanTopicSettings(visible=True),
                topic("people"): fl.BaseRendererPosesTopicSettings(visible=True)}))
    image = fl.ImagePanel(title="Causal graph", config=fl.ImageConfig(
        image_mode=fl.ImageModeConfig(image_topic=topic("causal/graph_image"))))
    plot = fl.PlotPanel(title="Causal variables", config=fl.PlotConfig(paths=[
        fl.PlotSeries(value=f"{topic('causal/variables_by_name')}.{name}", label=name, enabled=True)
        for name in PLOTTED_VARIABLES]))
    graph = fl.RawMessagesPanel(title="Graph", config=fl.RawMessagesConfig(topic_path=topic("causal/graph")))
    interventions = fl.RawMessagesPanel(title="Interventions",
                                        config=fl.RawMessagesConfig(topic_path=topic("causal/interventions")))
    layout = fl.Layout(content=fl.SplitContainer(direction="row", items=[
        fl.SplitItem(proportion=3, content=fl.SplitContainer(direction="column", items=[
            fl.SplitItem(proportion=2, content=scene), fl.SplitItem(proportion=1, content=plot)])),
        fl.SplitItem(proportion=2, content=fl.SplitContainer(direction="column", items=[
            fl.SplitItem(proportion=2, content=image),
            fl.SplitItem(proportion=1, content=fl.TabContainer(tabs=[
                fl.TabItem(title="Graph", content=graph),
                fl.TabItem(title="Interventions", content=interventions)]))])),
    ]))
    return layout.to_json()
