"""Lines and rules several stacks share: launchers (torchrun, the deepspeed runner, srun), NCCL,
a lost rank's crash, and the Hugging Face Trainer (its profile and its lines) that the FSDP and
DeepSpeed stacks both run."""
