"""Callable <-> stored reference: the function registry and ``module:qualname`` references.

A stored job names its function, it never contains it. Two kinds of names exist:

* a *registered name* (``register_function("billing.send", send)``): the safest, and the only
  kind that survives renaming or moving the function;
* a ``module:qualname`` reference, derived at schedule time for plain module-level functions
  (checked to resolve back to the very same object).

Loading is where a tampered store could try to run code: name ``os:system``, another function
of the application's own modules, a private helper of a library that happens to be imported. A
stored reference therefore resolves only to a function the application *vouched for in this
process* (RELIABILITY D4, R7), in one of four ways:

* registered by name in the journal's :class:`FunctionRegistry` (``register_function``);
* scheduled by object in this process (``schedule(func, ...)`` records ``func`` as vouched);
* marked with :func:`storable` (``@asyncron.storable``) or passed to :func:`vouch`;
* defined in a module under ``allowed_modules=`` (which may then also be imported).

"Importable" or "already imported" is never enough, standard-library and builtin modules are
always refused, and only plain Python functions defined where the reference says are accepted.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import sys
import threading
import types
from collections.abc import Callable, Iterable
from typing import Any

from .errors import InvalidJobError, UnvouchedFunctionError

__all__ = [
    "FunctionRegistry",
    "UnvouchedFunctionError",
    "derive_ref",
    "is_stdlib_module",
    "storable",
    "vouch",
    "vouched",
]


# The functions the application vouched for in this process, by ``module:qualname``: marked
# with @storable / vouch(), or scheduled by object. Module-level functions live as long as their
# module, so plain references are fine; the newest object of a ref wins (a reloaded module).
_VOUCHED: dict[str, Callable[..., Any]] = {}
_VOUCHED_LOCK = threading.Lock()


_STDLIB = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)


def is_stdlib_module(module: str) -> bool:
    """True for standard-library and builtin modules (never valid targets of a stored reference)."""
    return module.partition(".")[0] in _STDLIB


def _is_plain_function(obj: object) -> bool:
    return isinstance(obj, types.FunctionType)


def _lookup(module: types.ModuleType, qualname: str) -> object | None:
    obj: object = module
    for part in qualname.split("."):
        if part.startswith("__") or part == "<locals>":
            return None
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _function_ref(func: object, what: str) -> str:
    """``module:qualname`` of a plain module-level function (not checked against its module,
    which may still be executing when a decorator runs).

    Raises:
        InvalidJobError: not a plain function, a lambda, a nested function or a standard-library
            function; the message names ``what``.
    """
    if not _is_plain_function(func):
        raise InvalidJobError(
            f"{what}: {func!r} is not a plain Python function; only module-level functions can be "
            f"vouched for (register other callables by name with register_function)"
        )
    assert isinstance(func, types.FunctionType)
    module, qualname = func.__module__, func.__qualname__
    if func.__name__ == "<lambda>" or "<locals>" in qualname:
        raise InvalidJobError(
            f"{what}: {module}:{qualname} is a lambda or nested function; only module-level "
            f"functions can be vouched for (register it by name with register_function)"
        )
    if not module or is_stdlib_module(module):
        raise InvalidJobError(
            f"{what}: {module}:{qualname} is a standard-library function; stored jobs may never "
            f"name one (wrap it in a function of your own)"
        )
    return f"{module}:{qualname}"


def vouch(*funcs: Callable[..., Any]) -> None:
    """Declare that stored jobs may name these module-level functions (for functions you cannot
    decorate with :func:`storable`, such as another package's). Applies to every store of this
    process, from now on; a stored job already waiting for one of them comes back when a
    scheduler registers or schedules something, or on ``journal.retry_unresolved()``.

    Raises:
        InvalidJobError: a value is not a plain module-level function, or is a standard-library
            function.
    """
    refs = [(_function_ref(f, "vouch"), f) for f in funcs]
    with _VOUCHED_LOCK:
        for ref, func in refs:
            _VOUCHED[ref] = func


def storable(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: stored jobs may name this function (``module:qualname``), so a job that uses
    it comes back after a restart even before the application schedules it again::

        @asyncron.storable
        async def send_report(team: str) -> None: ...

    Returns the function unchanged.

    Raises:
        InvalidJobError: not a plain module-level function (a lambda, a nested function, a
            method, a callable object) or a standard-library function.
    """
    vouch(func)
    return func


def vouched(ref: str) -> Callable[..., Any] | None:
    """The function vouched for (storable, vouch or scheduled by object) under ``ref``."""
    with _VOUCHED_LOCK:
        return _VOUCHED.get(ref)


def _vouch_scheduled(ref: str, func: Callable[..., Any]) -> None:
    with _VOUCHED_LOCK:
        _VOUCHED[ref] = func


def derive_ref(func: Callable[..., Any]) -> str:
    """The ``module:qualname`` reference of a module-level function.

    Raises:
        InvalidJobError: ``func`` is a lambda, a closure or nested function, a bound method, a
            ``functools.partial``, a builtin, a class or callable object, or a function that does
            not re-import to the same object. The message says to register it instead.
    """
    hint = (
        "; register it under a name (register_function(name, func)) and schedule it with "
        "function_name=name, or schedule a module-level function"
    )
    if isinstance(func, functools.partial):
        raise InvalidJobError(
            f"func: a functools.partial cannot be stored; pass its arguments through "
            f"args/kwargs instead{hint}"
        )
    if inspect.ismethod(func):
        raise InvalidJobError(
            f"func: the bound method {func.__qualname__} cannot be stored (its object would be "
            f"lost){hint}"
        )
    if not _is_plain_function(func):
        raise InvalidJobError(
            f"func: {func!r} is not a plain Python function and cannot be stored by reference{hint}"
        )
    assert isinstance(func, types.FunctionType)
    module, qualname = func.__module__, func.__qualname__
    if func.__name__ == "<lambda>":
        raise InvalidJobError(f"func: a lambda cannot be stored{hint}")
    if "<locals>" in qualname:
        raise InvalidJobError(
            f"func: {qualname} is a nested function or closure and cannot be stored{hint}"
        )
    if not module or is_stdlib_module(module):
        raise InvalidJobError(
            f"func: {module}:{qualname} is a standard-library function; stored jobs may not "
            f"reference it directly{hint}"
        )
    mod = sys.modules.get(module)
    if mod is None or _lookup(mod, qualname) is not func:
        raise InvalidJobError(
            f"func: {module}:{qualname} does not resolve back to the same function (was it "
            f"redefined or decorated?){hint}"
        )
    return f"{module}:{qualname}"


class FunctionRegistry:
    """Names -> functions for stored jobs; thread-safe.

    Args:
        allowed_modules: module prefixes (``"myapp"`` allows ``myapp`` and ``myapp.*``) whose
            plain functions stored ``module:qualname`` references may name, importing the module
            if needed. Without it, a reference resolves only to a function vouched for otherwise
            (see :meth:`resolve`); standard-library modules never resolve.
    """

    def __init__(self, allowed_modules: Iterable[str] = ()) -> None:
        self._by_name: dict[str, Callable[..., Any]] = {}
        self._lock = threading.Lock()
        self.allowed_modules: tuple[str, ...] = tuple(allowed_modules)

    def register(self, name: str, func: Callable[..., Any]) -> None:
        """Register ``func`` under ``name`` (replacing an earlier registration of that name).

        Raises:
            InvalidJobError: ``name`` is empty or not a str, or ``func`` is not callable.
        """
        if not isinstance(name, str) or not name:
            raise InvalidJobError(f"name: expected a non-empty str, got {name!r}")
        if not callable(func):
            raise InvalidJobError(f"func: expected a callable, got {type(func).__name__} {func!r}")
        with self._lock:
            self._by_name[name] = func

    def unregister(self, name: str) -> bool:
        """Forget ``name``; False when it was not registered."""
        with self._lock:
            return self._by_name.pop(name, None) is not None

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._by_name)

    def get(self, name: str) -> Callable[..., Any] | None:
        with self._lock:
            return self._by_name.get(name)

    def _allowed(self, module: str) -> bool:
        return any(module == p or module.startswith(p + ".") for p in self.allowed_modules)

    def resolve(self, ref: str) -> Callable[..., Any]:
        """The function a stored reference names, if the application vouched for it.

        In order: a name registered here; a function marked :func:`storable`, passed to
        :func:`vouch` or scheduled by object in this process; a plain function defined in a
        module under ``allowed_modules`` (imported if needed). Nothing else resolves, however
        importable: a reference to an unvouched function of an imported module is refused.

        Raises:
            UnvouchedFunctionError: (a ``LookupError``) not resolvable; the message names the
                reference, the reason, what to do, and close registered names.
        """
        func = self.get(ref)
        if func is not None:
            return func
        module, sep, qualname = ref.partition(":")
        if not sep or not module or not qualname:
            raise UnvouchedFunctionError(self._missing(ref, "it is not a registered name"))
        if is_stdlib_module(module):
            raise UnvouchedFunctionError(
                f"function {ref!r} refused: standard-library and builtin modules cannot be "
                f"referenced by stored jobs; a stored job naming one is never run"
            )
        func = vouched(ref)
        if func is not None:
            return func
        if not self._allowed(module):
            raise UnvouchedFunctionError(
                f"function {ref!r} refused: the application did not vouch for it in this process "
                f"(it is not registered, not marked @asyncron.storable, not scheduled by object "
                f"since start, and {module!r} is not under allowed_modules). If it is yours, do "
                f"one of those before the scheduler starts; a stored job naming anything else is "
                f"never run"
            )
        mod = sys.modules.get(module)
        if mod is None:
            try:
                mod = importlib.import_module(module)
            except Exception as exc:
                raise UnvouchedFunctionError(
                    f"function {ref!r}: importing {module!r} failed: {exc!r}"
                ) from None
        obj = _lookup(mod, qualname)
        if not _is_plain_function(obj):
            raise UnvouchedFunctionError(
                self._missing(ref, f"{module}:{qualname} is not a plain function in that module")
            )
        assert isinstance(obj, types.FunctionType)
        if obj.__module__ != module or obj.__qualname__ != qualname:
            raise UnvouchedFunctionError(
                f"function {ref!r} refused: it names {obj.__module__}:{obj.__qualname__}, "
                f"imported into {module!r}"
            )
        return obj

    def _missing(self, ref: str, why: str) -> str:
        close = difflib.get_close_matches(ref, self.names(), n=3)
        hint = f"; close registered names: {', '.join(close)}" if close else ""
        return (
            f"function {ref!r} is not available ({why}); register it with "
            f"register_function({ref!r}, func){hint}"
        )

    def ref_for(self, func: Callable[..., Any], given: str | None) -> str:
        """The reference to store for ``func``: ``given`` (the job's ``function_name``), which is
        then registered for ``func`` if the name is new, or a derived ``module:qualname``.

        Raises:
            InvalidJobError: ``given`` is registered for a different function, or no reference can
                be derived (see :func:`derive_ref`).
        """
        if given is not None:
            with self._lock:
                current = self._by_name.get(given)
                if current is None:
                    self._by_name[given] = func
                elif current != func:  # bound methods are new objects on each access
                    raise InvalidJobError(
                        f"function_name: {given!r} is registered for {current!r}, not for "
                        f"{func!r}; use another name or register this function under it"
                    )
            return given
        ref = derive_ref(func)
        _vouch_scheduled(ref, func)  # scheduled by object: the application vouches for it
        return ref
