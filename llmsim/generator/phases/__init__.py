"""The plan -> trace rows in time order: init, train (with restarts), export, summary,
and the telemetry sampled meanwhile.
"""
