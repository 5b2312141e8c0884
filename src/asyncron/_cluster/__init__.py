"""The distributed journal: many scheduler processes on one PostgreSQL database.

Every node keeps the whole schedule in memory and computes fires from the triggers itself
(deterministic), so no node waits for another to tell it when something is due. The database
only *arbitrates*: when a fire is due, the engine asks :meth:`ClusterJournal.claim`, and exactly
one node wins the fire identity (job id, scheduled UTC instant). Claims made in the same loop
pass go to the database as one statement, so a burst of fires costs one round trip per node.

One module per concept, each stating its contract in its docstring:

- ``_journal``: :class:`ClusterJournal`, the parts composed; the engine's journal calls,
  loading jobs, applying a definition changed on another node, catch-up fires, open/close;
- ``_state``: what the parts share: settings, the node's standing (fenced, closing), the book
  of fires it holds (claimed, running, ending), the queues of outcomes and hand-backs;
- ``_claims``: claiming fires in batches, the overlap policy across nodes, skipped fires;
- ``_leases``: renewing leases, stopping runs whose lease is lost or may have lapsed, fencing
  a node that may be taken for dead; ``_liveness``: the node's session lock and heartbeat,
  kept from a thread of its own (death seen in about ``node_timeout``);
- ``_outcomes``: writing each run's outcome (fenced by its token) and the fires handed back;
- ``_recovery``: sweeping for expired, handed-back and dead nodes' fires, re-running or
  recording them per ``on_crash``;
- ``_changes``: ``LISTEN``/``NOTIFY`` wake-ups, polling the change log while the listener
  is down.

Database errors are retried with backoff and logged once per outage; claims wait (the engine
keeps its deadlines) and a claim whose commit was not acknowledged is recognised by its key
when retried, so a reconnect neither loses nor doubles a fire.
"""

from __future__ import annotations

from ._journal import ClusterJournal

__all__ = ["ClusterJournal"]
