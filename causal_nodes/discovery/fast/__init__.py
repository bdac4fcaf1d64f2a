"""Exact moment-based PCMCI with ParCorr / RobustParCorr: tigramite's results from lagged second moments.

:mod:`.pcmci` is the entry point (batch and streaming), :mod:`.pc1` and :mod:`.mci` its two stages,
:mod:`.parcorr` the partial-correlation tests, :mod:`.lagged_moments` the moment matrices and their sliding
update, :mod:`.link_assumptions` tigramite's link assumptions. See ``docs/fast_pcmci.md``.
"""
