"""The tmux layout's views: tmux 3.4's chrome, a job pane, an nvidia-smi monitor (pure).

Everything here imitates a named real tool at a pinned version (docs/screen.md): tmux 3.4 with
its default configuration (status line, pane borders), a terminal's hard wrapping and tab stops
in the job's pane, tqdm 4.67.1's meter, procps-ng 4.0.4's `watch` header, nvidia-smi (driver
570) in its table and CSV forms, and pdsh 2.34 prefixing each node's output.
"""
