"""Options -> a frozen RunPlan: the choice, layout, memory, throughput, schedule, loss,
incidents and timings of a run, decided before a row is written.
"""
