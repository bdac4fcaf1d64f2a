"""Discovery stage (ROS-free): causal graphs from a window of variable samples.

:mod:`.discover` runs PCMCI / PCMCI+ on one window and chooses the engine (the exact fast ParCorr engine in
:mod:`.fast`, or tigramite); :mod:`.window` is the sliding window with its bad-sample rules; :mod:`.online`
decides when and on what to run; :mod:`.graph_layout` draws a graph for markers and images.
"""
