"""Where torch prints from, per release: the ProcessGroupNCCL.cpp line of each watchdog message,
the frames of its abort, and the Python warnings workers print, with the lines they name.

C++ lines were read from the machine code of each wheel's `torch/lib/libtorch_cuda.so` (the
`__LINE__` immediate handed to `c10::MessageLogger(file, line, severity)` or stored in the
`c10::SourceLocation` of a thrown error, next to the reference to the message's string), frame
offsets from the return addresses of the calls (cp311 manylinux_2_28 x86_64 wheels, +cu128).
Python lines are those of the wheel's `.py` files. A run pairs with its era's torch: 2.8.0 (the
HF stacks), 2.9.0 (torchtitan); Megatron's 2.9.1 was not read, it takes 2.9.0's lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SITE: Final = "/usr/local/lib/python3.12/dist-packages"  # pip's target for the system Python
TORCH_LIB: Final = f"{SITE}/torch/lib"
PGNCCL_SRC: Final = "/pytorch/torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp"


@dataclass(frozen=True)
class TorchLines:
    """One torch release's lines and offsets."""

    pgnccl: dict[str, int]  # ProcessGroupNCCL.cpp line of each message (keys below)
    error_ctor: int  # c10::Error::Error(SourceLocation, string): return offset in libc10.so
    # the first backtrace's frames in libtorch_cuda.so: (symbol address, offset of the return)
    # of WorkNCCL::checkTimeout (into c10::Error), Watchdog::runLoop, Watchdog::run
    check_timeout: tuple[int, int]
    run_loop: tuple[int, int]
    run: tuple[int, int]
    # (symbol address of c10::Error::Error, of the DistBackendError constructor's return, of
    # Watchdog::run's cold part after building the error): the rethrown error's frames
    error_at: int
    dist_error_ret: int
    run_cold_ret: int
    # Python warnings: (file under torch/, line of `warnings.warn(`)
    barrier_warn: tuple[str, int, str, str]  # + the message and the warn call's source line
    barrier_warns_all: bool  # every rank warns (2.8), or group rank 0 only (2.9)
    fsdp_state_dict_warn: int  # fully_sharded_data_parallel.py: set_state_dict_type's warn


# Keys of `pgnccl`: timeout (checkTimeout's LOG), check_timeout (its error's SourceLocation),
# status (the watchdog's "failure detected"), trace / no_trace (the failed collective's stack,
# or why there is none), signal_dump ("First PG on this rank to signal dumping."), failed and
# down (handleException), terminated (Watchdog::run's LOG of the exception), rethrow (the
# DistBackendError it rethrows), dump_info (dumpDebuggingInfo's first line), destroy (the
# destructor's warning when destroy_process_group() was never called).
TORCH: Final[dict[str, TorchLines]] = {
    "2.8": TorchLines(
        pgnccl={
            "timeout": 685,
            "check_timeout": 688,
            "status": 2252,
            "trace": 729,
            "no_trace": 732,
            "signal_dump": 2584,
            "failed": 746,
            "down": 760,
            "terminated": 2068,
            "rethrow": 2074,
            "dump_info": 1589,
            "destroy": 1538,
        },
        error_ctor=0x80,
        check_timeout=(0xE3FF00, 0x247),
        run_loop=(0xE425D0, 0x1591),
        run=(0xE44DF0, 0xD2),
        error_at=0x91E30,
        dist_error_ret=0xE1C1A1,
        run_cold_ret=0x9468E6,
        barrier_warn=(
            "distributed/distributed_c10d.py",
            4807,
            "UserWarning: No device id is provided via `init_process_group` or `barrier `. "
            "Using the current device set by the user. ",
            "warnings.warn(  # warn only once",
        ),
        barrier_warns_all=True,
        fsdp_state_dict_warn=678,
    ),
    "2.9": TorchLines(
        pgnccl={
            "timeout": 683,
            "check_timeout": 686,
            "status": 2241,
            "trace": 727,
            "no_trace": 730,
            "signal_dump": 2573,
            "failed": 744,
            "down": 758,
            "terminated": 2057,
            "rethrow": 2063,
            "dump_info": 1575,
            "destroy": 1524,
        },
        error_ctor=0x80,
        check_timeout=(0xE571C0, 0x247),
        run_loop=(0xE5A980, 0x1691),
        run=(0xE5D180, 0xDF),
        error_at=0x9DB00,
        dist_error_ret=0xE336D1,
        run_cold_ret=0x95044F,
        # 2.9 warns on group rank 0 only, with another text (distributed_c10d.py:4875-4879)
        barrier_warn=(
            "distributed/distributed_c10d.py",
            4876,
            "UserWarning: barrier(): using the device under current context. You can specify "
            "`device_id` in `init_process_group` to mute this warning.",
            "warnings.warn(",
        ),
        barrier_warns_all=False,
        fsdp_state_dict_warn=675,
    ),
}


def torch_lines(version: str) -> TorchLines:
    """The lines of a torch version (its minor release's: 2.9.1 reads as 2.9.0)."""
    return TORCH[".".join(version.split(".")[:2])]


def python_warning(path: str, line: int, category_and_message: str, source: str) -> list[str]:
    """warnings.showwarning's two lines: `file:line: Category: message` and the source line of
    the `warnings.warn(` call (stripped, indented by two), as the default filter prints them
    once per process."""
    return [f"{SITE}/torch/{path}:{line}: {category_and_message}", f"  {source}"]


FSDP_STATE_DICT_WARNING: Final = (
    "FutureWarning: FSDP.state_dict_type() and FSDP.set_state_dict_type() are being deprecated. "
    "Please use APIs, get_state_dict() and set_state_dict(), which can support different "
    "parallelisms, FSDP1, FSDP2, DDP. API doc: https://pytorch.org/docs/stable/"
    "distributed.checkpoint.html#torch.distributed.checkpoint.state_dict.get_state_dict ."
    "Tutorial: https://pytorch.org/tutorials/recipes/distributed_checkpoint_recipe.html ."
)
DESTROY_WARNING: Final = (
    "Warning: WARNING: destroy_process_group() was not called before program exit, which can "
    "leak resources. For more info, please see "
    "https://pytorch.org/docs/stable/distributed.html#shutdown (function operator())"
)
