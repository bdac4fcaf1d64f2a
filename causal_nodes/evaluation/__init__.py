"""Evaluation (ROS-free): how good the pipeline's outputs are against known truth.

Graph precision / recall / F1 (:mod:`.graph_metrics`), predicted vs simulated intervention effects
(:mod:`.interventions`), trajectory forecasts on ETH/UCY (:mod:`.trajectories`) and the CIP reinforcement-learning
study (:mod:`.rl`). It may import every runtime stage and the simulator; no runtime stage imports it.
"""
