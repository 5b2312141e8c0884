"""The engine's core: job state, admission rules, dispatch, executors, outcomes, dependents,
the leader lock, and the narrow hooks journals and facades use (see docs/architecture.md).

Nothing here imports a module above it (the scheduler, journals, facades, CLI, dashboard).
"""
