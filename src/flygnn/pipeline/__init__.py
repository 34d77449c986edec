"""Orchestration that chains the pipeline stages (simulate, train, analysis, report).

The stages are siblings and know nothing of each other; what runs one after the
other — e.g. dataset → trainer → bundle → scores → figure in :mod:`.train` — lives here,
next to the CLI and the workflow.
"""
