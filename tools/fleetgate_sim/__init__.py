"""fleetgate-sim: simulated ThingsBoard and ThingDatas devices, and an operator, against a fleetgate URL.

Run from the repository root: ``PYTHONPATH=tools .venv/bin/python -m fleetgate_sim --url URL``
(``--help`` lists the options), or ``make sim``; ``make soak`` runs ``fleetgate_sim.soak``.
"""
