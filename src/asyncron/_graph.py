"""The dependency graph: edges, cycle checks and readiness. Pure and loop-free.

A dependent is *ready* when every one of its dependencies has succeeded since the dependent's
previous run started (or has completed for good). Readiness is kept incrementally: each edge holds
a "satisfied" flag and each job a count of unsatisfied edges, so a dependency's success costs O(1)
per outgoing edge and a 10,000-wide fan-in never rescans its inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .errors import DependencyCycleError

__all__ = ["DependencyGraph"]


class DependencyGraph:
    __slots__ = ("_edges", "_reverse", "_unmet")

    def __init__(self) -> None:
        self._edges: dict[str, dict[str, bool]] = {}  # job -> {dependency: satisfied}
        self._reverse: dict[str, set[str]] = {}  # dependency -> dependents
        self._unmet: dict[str, int] = {}

    def dependencies(self, job: str) -> tuple[str, ...]:
        return tuple(self._edges.get(job, ()))

    def dependents(self, job: str) -> frozenset[str]:
        return frozenset(self._reverse.get(job, ()))

    @property
    def any_dependents(self) -> bool:
        """False while the graph has no edge at all (a fast check on the hot path)."""
        return bool(self._reverse)

    def has_dependents(self, job: str) -> bool:
        return bool(self._reverse.get(job))

    def has_dependencies(self, job: str) -> bool:
        return bool(self._edges.get(job))

    def add(self, job: str, depends_on: Iterable[str], satisfied: Callable[[str], bool]) -> None:
        """Add edges ``job -> d`` for each ``d`` in ``depends_on``.

        ``satisfied(d)`` gives each new edge's initial state. Either every edge is added or, on
        error, none.

        Raises:
            DependencyCycleError: an edge would close a cycle; the error names it.
        """
        new = [d for d in dict.fromkeys(depends_on) if d not in self._edges.get(job, {})]
        # A path back to ``job`` must enter it through an edge, so a job nothing depends on yet
        # (every newly scheduled one) cannot close a cycle: the common case stays O(edges).
        reachable = bool(self._reverse.get(job))
        for dep in new:
            if dep == job:
                raise DependencyCycleError([job, job])
            path = self._path(dep, job, extra=(job, new)) if reachable else None
            if path is not None:
                raise DependencyCycleError([job, *path])
        edges = self._edges.setdefault(job, {})
        for dep in new:
            ok = satisfied(dep)
            edges[dep] = ok
            self._reverse.setdefault(dep, set()).add(job)
            if not ok:
                self._unmet[job] = self._unmet.get(job, 0) + 1

    def _path(self, start: str, goal: str, extra: tuple[str, list[str]]) -> list[str] | None:
        """A dependency path from ``start`` to ``goal`` (both included), or None.

        ``extra`` holds edges about to be added, so that a batch cannot close a cycle either.
        """
        if start == goal:
            return [goal]
        parents: dict[str, str] = {start: start}
        stack = [start]
        while stack:
            node = stack.pop()
            nexts = list(self._edges.get(node, ()))
            if node == extra[0]:
                nexts.extend(extra[1])
            for nxt in nexts:
                if nxt in parents:
                    continue
                parents[nxt] = node
                if nxt == goal:
                    path = [goal]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return path[::-1]
                stack.append(nxt)
        return None

    def remove(self, job: str) -> None:
        """Drop ``job`` and every edge touching it."""
        for dep in self._edges.pop(job, {}):
            dependents = self._reverse.get(dep)
            if dependents is not None:
                dependents.discard(job)
                if not dependents:
                    del self._reverse[dep]
        self._unmet.pop(job, None)
        for dependent in self._reverse.pop(job, set()):
            edges = self._edges.get(dependent)
            if edges is not None and job in edges and not edges.pop(job):
                self._unmet[dependent] -= 1

    def is_ready(self, job: str) -> bool:
        return self._unmet.get(job, 0) == 0

    def reset(self, job: str, satisfied: Callable[[str], bool]) -> None:
        """A run of ``job`` starts: from now on each dependency must succeed again, unless
        ``satisfied(dep)`` says it stays satisfied (a dependency that completed for good)."""
        edges = self._edges.get(job)
        if not edges:
            return
        unmet = 0
        for dep in edges:
            ok = satisfied(dep)
            edges[dep] = ok
            unmet += not ok
        self._unmet[job] = unmet

    def succeeded(self, dep: str) -> list[str]:
        """``dep`` finished a run successfully; return the dependents that just became ready."""
        ready = []
        for job in self._reverse.get(dep, ()):
            edges = self._edges[job]
            if not edges[dep]:
                edges[dep] = True
                left = self._unmet[job] - 1
                self._unmet[job] = left
                if left == 0:
                    ready.append(job)
        return ready
