"""The engineer's terminal around a job, as data: the tools' pinned versions, driver builds,
login hosts, user and team names, W&B's run-name words (all drawn from by plan/terminal.py).

Versions are those /work/notes/issue21-tools.md read the sources of (docs/screen.md names each
tool and what it imitates): wandb 0.22.3, huggingface_hub 0.36.0 (`hf upload` with hf-xet's
bars), procps-ng watch 4.0.4, GNU coreutils 9.x `ls`/`tail`, Slurm 25.05, bash 5.2 with the
RHEL/Rocky `/etc/bashrc` prompt (`[\\u@\\h \\W]\\$ `), which HPC login nodes and GPU servers run.
"""

from __future__ import annotations

from typing import Final

WANDB_VERSION: Final = "0.22.3"
WANDB_API: Final = "https://api.wandb.ai"
WANDB_SITE: Final = "https://wandb.ai"
HUB_SITE: Final = "https://huggingface.co"
WATCH_INTERVAL: Final = 2.0  # `watch -n 2 nvidia-smi`: watch's default interval

# NVIDIA drivers of the R570-R580 branches with the CUDA version nvidia-smi prints for them;
# every one runs the CUDA 12.8 toolkit the stacks' torch wheels are built with (a driver's
# CUDA version is >= the toolkit's). Builds as NVIDIA released them (570.133.20: 2025-04,
# 570.172.08: 2025-07, 575.57.08: 2025-05, 580.65.06: 2025-08, 580.95.05: 2025-10).
DRIVERS: Final[tuple[tuple[str, str], ...]] = (
    ("570.133.20", "12.8"),
    ("570.172.08", "12.8"),
    ("575.57.08", "12.9"),
    ("580.65.06", "13.0"),
    ("580.95.05", "13.0"),
)

# Login nodes of a Slurm cluster, as `hostname -s` names them.
LOGIN_HOSTS: Final = ("login-01", "login-02", "login01", "login2", "slogin-01", "hpc-login-1")
# Unix user names (the owner of the files `ls -l` lists, the Hub and W&B user).
USERS: Final = (
    "jdoe",
    "alice",
    "mchen",
    "pkumar",
    "sgarcia",
    "tnguyen",
    "rbauer",
    "kwalsh",
    "dsato",
    "lmartin",
    "ykim",
    "anovak",
)
# W&B teams (an entity that differs from the user: the login line names it in brackets).
TEAMS: Final = ("acme-ml", "llm-infra", "foundation-models", "research-lab", "nlp-team")
# tmux session names people give (None: the first unnamed session, which tmux calls `0`).
TMUX_SESSIONS: Final[tuple[str | None, ...]] = (None, None, "train", "main", "llm", "work")

# W&B names an unnamed run `adjective-noun-N` server-side (N counts the project's runs); the
# words are of the kind its captures show (earnest-sunset-1, wild-butterfly-6637,
# vague-dream-9879, bright-frog-221): the server's own lists are not public.
WANDB_ADJECTIVES: Final = (
    "earnest",
    "wild",
    "vague",
    "bright",
    "glorious",
    "fanciful",
    "stellar",
    "silver",
    "dauntless",
    "lively",
    "misty",
    "noble",
    "restful",
    "smooth",
    "sweet",
    "worldly",
)
WANDB_NOUNS: Final = (
    "sunset",
    "butterfly",
    "dream",
    "frog",
    "river",
    "wave",
    "forest",
    "night",
    "violet",
    "sky",
    "pond",
    "field",
    "cloud",
    "dust",
    "bush",
    "lake",
)
RUN_ID_CHARS: Final = "abcdefghijklmnopqrstuvwxyz0123456789"  # wandb's run ids (runid.py)
