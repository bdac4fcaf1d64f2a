"""RL over the simulator with CIP-style causal components (weights, counterfactual augmentation)."""
