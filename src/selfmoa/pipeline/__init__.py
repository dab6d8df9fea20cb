"""Pipeline: the stage table, stage bodies, fingerprints, reports, compare and sweep.

Uses the plugins (judges, attacks, backends, training, evals, data) and core; never the CLI.
"""
