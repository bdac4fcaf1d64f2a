"""Moved: :func:`random_linear_scm` lives in :mod:`causal_nodes.sim.scm` with the other SCM generator. This alias
keeps branches that still import it from here working; new code imports from ``causal_nodes.sim.scm``."""
from .scm import random_linear_scm

__all__ = ["random_linear_scm"]
