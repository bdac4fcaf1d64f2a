"""PyTorch training and ONNX export of the streaming world model (optional extra: needs torch).

Runtime code under ``causal_nodes`` never imports this package.
"""
