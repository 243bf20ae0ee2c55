"""The training stacks: one folder each (hf, hf_deepspeed, megatron, torchtitan), holding its
profile (what differs between stacks: layouts, cadences, names, formats, launchers, timeouts;
profile.py) and its run (what it prints; run.py), and what several share (common/).

Nothing outside this package imports a stack's folder (an import contract in pyproject.toml):
the registry (registry.py) maps a stack's name to its profile and run. This file imports
nothing, so the plan can import the profile's base class without loading every stack.
"""
