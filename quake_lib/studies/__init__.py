"""Experiments that use the registered approaches, each one concern, layered above :mod:`quake_lib.approaches`.

- :mod:`.references`: what a chapter sets its approach beside (the baselines, earlier approaches' arms);
- :mod:`.cpc_design`: the 2019 study's observations on CPC, revisited;
- :mod:`.real_transfer`: the real LANL segment statistics: synthetic -> real transfer, the cycle targets;
- :mod:`.lab_study` and :mod:`.lab_protocols`: the lab runs p4581 and p5198, and Laurenti et al.'s protocol.
"""
