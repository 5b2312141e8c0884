"""The SQL text of the PostgreSQL store's claims, leases, outcomes and recovery.

Each statement is one round trip that does its whole step in the database, judged by the
database's clock (``clock_timestamp()``), never a node's. They are built once per store, for its
schema (:func:`statements`), and asyncpg prepares and caches them per connection.

Every statement that locks several fire rows locks them in ``(job_id, fire_us)`` order (job
rows in id order), so that two of them can never wait for each other in a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._pg_base import SKIPPED

__all__ = ["Statements", "statements"]


@dataclass(frozen=True, slots=True)
class Statements:
    """The statements of one schema (see :func:`statements` for what each does)."""

    upsert: str
    claim: str
    renew: str
    finish: str
    hand_back: str
    recover: str


def statements(s: str) -> Statements:
    """The statements for the schema ``s`` (already quoted: ``'"asyncron"'``)."""
    # Insert new jobs and replace the records of existing ones (see PostgresJobs.write_batch),
    # in id order (the order rows are locked in). A new job's ``created`` (list order) is the
    # statement's instant plus its position in the batch in microseconds: the batch's order.
    # Returns each id written, and whether it is to be announced: a new job, or a
    # changed definition. A record equal to the stored one but for its version is not written.
    # Once claims have moved a job's next fire, only claims and definition changes move it (a
    # node's own view of its runs must not move the cluster's back). The version only grows: it
    # is the job's fencing counter, which claims advance too. The claim watermark is never
    # touched here.
    upsert = f"""
WITH new AS (
    SELECT * FROM unnest(
        $1::text[], $2::jsonb[], $3::text[], $4::text[], $5::float8[], $6::bigint[], $7::int[]
    ) AS n(id, doc, def_hash, status, next_run, version, pos)
), old AS (
    SELECT j.id, j.def_hash FROM {s}.jobs j JOIN new n ON n.id = j.id
), now AS (
    SELECT clock_timestamp() AS at
)
INSERT INTO {s}.jobs AS j (id, doc, def_hash, status, next_run, version, created)
SELECT n.id, n.doc, n.def_hash, n.status, n.next_run, n.version,
    now.at + make_interval(secs => n.pos / 1000000.0)
FROM new n, now ORDER BY n.id
ON CONFLICT (id) DO UPDATE SET
    doc = excluded.doc, def_hash = excluded.def_hash, status = excluded.status,
    next_run = CASE WHEN j.def_hash IS DISTINCT FROM excluded.def_hash
                      OR j.last_claimed_us IS NULL
                    THEN excluded.next_run ELSE j.next_run END,
    version = greatest(j.version + 1, excluded.version)
WHERE j.def_hash IS DISTINCT FROM excluded.def_hash
   OR (j.doc - 'version') IS DISTINCT FROM (excluded.doc - 'version')
RETURNING j.id, j.def_hash IS DISTINCT FROM (SELECT o.def_hash FROM old o WHERE o.id = j.id)
    AS announce
"""
    claim = f"""
WITH req AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $9::int[])
        AS r(job_id, fire_us, next_us, on_crash, max_running)
), prior AS (
    SELECT f.job_id, f.fire_us, f.token, f.state FROM {s}.fires f
    JOIN req r ON r.job_id = f.job_id AND r.fire_us = f.fire_us
    WHERE f.claim_key = $5 AND f.owner = $6
), locked AS (
    SELECT j.id, r.fire_us, r.next_us, r.on_crash,
        (r.max_running IS NOT NULL AND (
            SELECT count(*) FROM {s}.fires f
            WHERE f.job_id = j.id AND f.state = 'running'
              AND (f.owner <> $6 OR r.max_running < 0)
              AND f.lease_until > clock_timestamp()
        ) >= abs(r.max_running)) AS busy
    FROM {s}.jobs j JOIN req r ON r.job_id = j.id
    WHERE (j.last_claimed_us IS NULL OR j.last_claimed_us < r.fire_us)
      AND r.fire_us <= (extract(epoch FROM clock_timestamp()) * 1000000)::bigint + $7
    ORDER BY j.id
    FOR UPDATE OF j
), adv AS (
    UPDATE {s}.jobs j
    SET last_claimed_us = l.fire_us, next_run = l.next_us / 1000000.0, version = j.version + 1
    FROM locked l WHERE j.id = l.id
    RETURNING j.id, l.fire_us, l.on_crash, j.version, l.busy
), ins AS (
    INSERT INTO {s}.fires
        (job_id, fire_us, owner, state, attempt, token, on_crash, claim_key, claimed_at,
         lease_until, finished_at, error)
    SELECT id, fire_us, $6, CASE WHEN busy THEN 'skipped' ELSE 'running' END, 1,
           CASE WHEN busy THEN {SKIPPED} ELSE version END, on_crash, $5, now(),
           clock_timestamp() + make_interval(secs => $8),
           CASE WHEN busy THEN clock_timestamp() END,
           CASE WHEN busy THEN 'skipped: the previous run was still going (overlap)' END
    FROM adv
    ON CONFLICT (job_id, fire_us) DO NOTHING
    RETURNING job_id, fire_us, token
)
SELECT job_id, fire_us, token FROM ins
UNION ALL
SELECT job_id, fire_us, token FROM prior
"""
    # Renewals and outcomes lock their rows in (job_id, fire_us) order, so that two of them
    # (or any two statements of this module) can never wait for each other in a cycle.
    renew = f"""
WITH r AS (
    SELECT * FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS r(job_id, fire_us, token)
), locked AS (
    SELECT f.job_id, f.fire_us FROM {s}.fires f
    JOIN r ON f.job_id = r.job_id AND f.fire_us = r.fire_us
    WHERE f.owner = $1 AND f.token = r.token AND f.state = 'running'
      AND f.lease_until > clock_timestamp()
    ORDER BY f.job_id, f.fire_us
    FOR UPDATE OF f
)
UPDATE {s}.fires f SET lease_until = clock_timestamp() + make_interval(secs => $2)
FROM locked l WHERE f.job_id = l.job_id AND f.fire_us = l.fire_us
RETURNING f.job_id, f.fire_us
"""
    # Returns the fires recorded now *and* those this node had recorded already (a write
    # retried after its commit was not acknowledged): only a fire missing from the answer
    # was taken over by another node.
    finish = f"""
WITH r AS (
    SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[])
        AS r(job_id, fire_us, token, state, error)
), locked AS (
    SELECT f.job_id, f.fire_us, r.state, r.error FROM {s}.fires f
    JOIN r ON f.job_id = r.job_id AND f.fire_us = r.fire_us
    WHERE f.owner = $1 AND f.token = r.token AND f.state = 'running'
    ORDER BY f.job_id, f.fire_us
    FOR UPDATE OF f
), upd AS (
    UPDATE {s}.fires f SET state = l.state, error = l.error, finished_at = clock_timestamp()
    FROM locked l WHERE f.job_id = l.job_id AND f.fire_us = l.fire_us
    RETURNING f.job_id, f.fire_us
)
SELECT job_id, fire_us FROM upd
UNION ALL
SELECT f.job_id, f.fire_us FROM {s}.fires f
JOIN r ON f.job_id = r.job_id AND f.fire_us = r.fire_us
WHERE f.owner = $1 AND f.token = r.token AND f.state NOT IN ('running', 'released')
"""
    # Hand fires back: 'released' (claimed, never started: the taker runs it as it is) or
    # expired now (started and cut short: recovered per on_crash). Then wake the sweepers.
    hand_back = f"""
WITH r AS (
    SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bool[])
        AS r(job_id, fire_us, token, started)
), locked AS (
    SELECT f.job_id, f.fire_us, r.started FROM {s}.fires f
    JOIN r ON f.job_id = r.job_id AND f.fire_us = r.fire_us
    WHERE f.owner = $1 AND f.token = r.token AND f.state = 'running'
    ORDER BY f.job_id, f.fire_us
    FOR UPDATE OF f
)
UPDATE {s}.fires f SET
    state = CASE WHEN l.started THEN 'running' ELSE 'released' END,
    lease_until = clock_timestamp() - interval '1 second'
FROM locked l WHERE f.job_id = l.job_id AND f.fire_us = l.fire_us
RETURNING f.job_id, f.fire_us
"""
    # A fire is recovered when its lease expired, when it was handed back ('released'),
    # or when its owner is dead: the owner's session-level advisory lock is free (its
    # connection closed: the process died) *and* its heartbeat is older than $4 seconds
    # (a live node whose connection dropped gets that long to come back and stops its runs
    # before it). A node whose last heartbeat predates the server's start lost its
    # session to the restart, not necessarily its life: its fires wait for their leases.
    recover = f"""
WITH dead_nodes AS MATERIALIZED (
    SELECT n.node_id FROM {s}.nodes n
    WHERE n.node_id <> $1
      AND n.beat < clock_timestamp() - make_interval(secs => $4)
      AND n.beat > pg_postmaster_start_time()
      AND pg_try_advisory_xact_lock(n.lock_key)
), dead AS (
    SELECT f.job_id, f.fire_us, f.state AS was FROM {s}.fires f
    WHERE (f.state = 'running' AND f.lease_until < clock_timestamp())
       OR f.state = 'released'
       OR (f.state = 'running' AND f.owner IN (SELECT node_id FROM dead_nodes))
    ORDER BY f.lease_until
    LIMIT $3
    FOR UPDATE OF f SKIP LOCKED
)
UPDATE {s}.fires f SET
    state = CASE WHEN d.was = 'released' OR f.on_crash = 'rerun' THEN 'running'
                 ELSE 'abandoned' END,
    previous_owner = f.owner,
    owner = CASE WHEN d.was = 'released' OR f.on_crash = 'rerun' THEN $1 ELSE f.owner END,
    attempt = f.attempt + CASE WHEN d.was <> 'released' AND f.on_crash = 'rerun' THEN 1
                               ELSE 0 END,
    token = f.token + 1,
    lease_until = clock_timestamp() + make_interval(secs => $2),
    finished_at = CASE WHEN d.was = 'released' OR f.on_crash = 'rerun' THEN NULL
                       ELSE clock_timestamp() END,
    error = CASE WHEN d.was = 'released' OR f.on_crash = 'rerun' THEN NULL
                 ELSE 'abandoned: node ' || f.owner || ' died or stopped renewing its lease' END,
    recovered_at = clock_timestamp()
FROM dead d WHERE f.job_id = d.job_id AND f.fire_us = d.fire_us
RETURNING f.job_id, f.fire_us, f.state, f.attempt, f.token, f.previous_owner,
    d.was = 'released' AS handed_back
"""
    return Statements(upsert, claim, renew, finish, hand_back, recover)
