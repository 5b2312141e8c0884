"""Function references: what may be stored, and what a tampered store cannot make us run (D4)."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
from pathlib import Path

import persist_jobs
import pytest

from asyncron._refs import derive_ref
from asyncron.errors import InvalidJobError
from asyncron.stores import FunctionRegistry


class _Thing:
    def method(self) -> None: ...


def test_module_level_function_gets_module_qualname() -> None:
    assert derive_ref(persist_jobs.record) == "persist_jobs:record"
    assert FunctionRegistry().resolve("persist_jobs:record") is persist_jobs.record


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (lambda: None, "lambda"),
        (functools.partial(persist_jobs.record, "x"), "partial"),
        (_Thing().method, "bound method"),
        (print, "not a plain Python function"),
    ],
)
def test_unstorable_callables_are_refused_with_advice(func: object, message: str) -> None:
    with pytest.raises(InvalidJobError, match=message) as info:
        derive_ref(func)  # type: ignore[arg-type]
    assert "register_function" in str(info.value)


def test_closure_is_refused() -> None:
    def inner() -> None: ...

    with pytest.raises(InvalidJobError, match="nested function or closure"):
        derive_ref(inner)


def test_function_name_registered_for_another_function_is_refused() -> None:
    reg = FunctionRegistry()
    reg.register("job", persist_jobs.record)
    with pytest.raises(InvalidJobError, match="registered for"):
        reg.ref_for(persist_jobs.fail, "job")


def test_unknown_name_suggests_close_registered_names() -> None:
    reg = FunctionRegistry()
    reg.register("billing.send_v2", persist_jobs.record)
    with pytest.raises(LookupError, match=r"close registered names: billing\.send_v2"):
        reg.resolve("billing.send_v1")


@pytest.mark.parametrize(
    "ref", ["os:system", "subprocess:Popen", "builtins:eval", "importlib:import_module"]
)
def test_tampered_references_to_dangerous_functions_are_refused(ref: str) -> None:
    with pytest.raises(LookupError, match=r"refused|not available"):
        FunctionRegistry(allowed_modules=["os", "subprocess"]).resolve(ref)


def test_loading_never_imports_a_module_outside_allowed_prefixes(tmp_path: Path) -> None:
    """A module with an import side effect (writes a marker) is referenced; it must not load."""
    marker = tmp_path / "marker"
    (tmp_path / "evil_side_effect.py").write_text(
        f"open({str(marker)!r}, 'w').write('pwned')\ndef run():\n    pass\n"
    )
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from asyncron.stores import FunctionRegistry
        before = set(sys.modules)
        try:
            FunctionRegistry().resolve("evil_side_effect:run")
        except LookupError as exc:
            print("refused", exc)
        assert "evil_side_effect" not in sys.modules
        print("new modules:", sorted(set(sys.modules) - before))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "refused" in out.stdout and "new modules: []" in out.stdout
    assert not marker.exists()


def test_allowed_prefix_may_be_imported(tmp_path: Path) -> None:
    (tmp_path / "myapp_jobs_x.py").write_text("def run():\n    return 42\n")
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from asyncron.stores import FunctionRegistry
        print(FunctionRegistry(allowed_modules=["myapp_jobs_x"]).resolve("myapp_jobs_x:run")())
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "42"
