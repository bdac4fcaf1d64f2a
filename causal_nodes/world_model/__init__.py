"""Streaming world model: predicts how people move and respond to the robot.

ROS-free core. The runtime (:mod:`.runtime`) needs only numpy + onnxruntime; training and export
live in the top-level ``training`` package (PyTorch, optional extra).
"""
