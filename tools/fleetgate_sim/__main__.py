"""``python -m fleetgate_sim``: see ``fleetgate_sim.cli``."""

from fleetgate_sim.cli import main

raise SystemExit(main())
