"""The training stacks: one folder each (hf, hf_deepspeed, megatron, torchtitan), holding its
profile (what differs between stacks: layouts, cadences, names, formats, launchers, timeouts;
profile.py, a plan.profile.StackProfile) and its run (what it prints; run.py, a
common.run.StackRun), and what several share (common/).

Nothing outside this package imports a stack's folder (an import contract in pyproject.toml):
the registry (registry.py) maps a stack's name to its profile and run. This file imports
nothing, so importing one module of the package does not load every stack.
"""
