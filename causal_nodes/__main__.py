"""``python -m causal_nodes`` runs the CLI."""
import sys

from causal_nodes.cli import main

sys.exit(main())
