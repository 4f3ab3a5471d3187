"""The one error tree and its table: every wangge error class has an HTTP status and an exit
code, and the API and the CLI answer each class with exactly those (real app objects)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli.output import WanggeGroup, fail_input
from api.core.error_handlers import install_error_handlers
from api.core.errors import ERROR_TABLE, rule_for
from gis.errors import WanggeError

ROOT = Path(__file__).resolve().parents[2]


def _import_everything() -> None:
    for package in ("gis", "maps", "api"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if ".migrations" not in info.name:  # Alembic scripts run only under Alembic
                importlib.import_module(info.name)


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


_import_everything()
ERRORS = sorted(
    {WanggeError, *_subclasses(WanggeError)}, key=lambda c: f"{c.__module__}.{c.__qualname__}"
)

# classes whose constructor takes more than a message
_FACTORIES = {
    "IllegalTransition": lambda cls: cls("registered", "resolve", ["feed_back"]),
    "RoleNotAllowed": lambda cls: cls("registered", "feed_back", "resident", ["grid_worker"]),
    "TooManyRequests": lambda cls: cls("太多 / too many", retry_after_s=3),
    "IdNumberError": lambda cls: cls("11010519491231002X", "校验位错误", "bad check digit"),
}


def _instance(cls: type) -> WanggeError:
    factory = _FACTORIES.get(cls.__name__, lambda c: c("测试错误 / planted error"))
    return factory(cls)


def _nearest_listed(cls: type) -> type | None:
    return next((k for k in cls.__mro__ if k in ERROR_TABLE), None)


def test_the_tree_reaches_every_layer():
    modules = {c.__module__.split(".")[0] for c in ERRORS}
    assert {"gis", "maps", "api"} <= modules
    names = {c.__name__ for c in ERRORS}
    # the API's errors, the workflow's and the backup's are one tree now
    assert {"ApiError", "NotFound", "IllegalTransition", "TargetNotEmptyError"} <= names


def test_target_not_empty_is_defined_once():
    assert [c for c in ERRORS if c.__name__ == "TargetNotEmptyError"] == [
        importlib.import_module("api.services.database_copy").TargetNotEmptyError
    ]


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__qualname__)
def test_every_error_class_has_a_status_and_an_exit_code(cls):
    rule = rule_for(cls)
    assert rule is not None, f"{cls.__qualname__} has no entry in ERROR_TABLE"
    assert 400 <= rule.status < 600
    assert rule.exit_code != 0
    if cls is not WanggeError:
        # chosen on purpose: a listed ancestor closer than the root's server-fault fallback
        assert _nearest_listed(cls) is not WanggeError, (
            f"{cls.__qualname__} falls back to WanggeError's 500: list it in ERROR_TABLE or "
            "derive it from the error it is (InputError, NotFound, Conflict…)"
        )


def _web_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    by_name = {f"{c.__module__}.{c.__qualname__}": c for c in ERRORS}

    @app.get("/raise/{name}")
    def raise_error(name: str) -> dict:
        raise _instance(by_name[name])

    return app


def _cli_app() -> typer.Typer:
    app = typer.Typer(cls=WanggeGroup)
    by_name = {f"{c.__module__}.{c.__qualname__}": c for c in ERRORS}

    @app.command("raise")
    def raise_error(name: str, caught: bool = False) -> None:
        try:
            raise _instance(by_name[name])
        except WanggeError as exc:
            if caught:  # the way commands end on an error they expect
                raise fail_input(exc) from exc
            raise  # uncaught: the group ends the run

    @app.command("other")
    def other() -> None:  # two commands, so that "raise" is a subcommand as in wangge
        pass

    return app


WEB = TestClient(_web_app(), raise_server_exceptions=False)
CLI = _cli_app()


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__qualname__)
def test_the_api_answers_each_error_with_its_table_status(cls):
    answer = WEB.get(f"/raise/{cls.__module__}.{cls.__qualname__}")
    assert answer.status_code == rule_for(cls).status
    assert answer.json()["detail"] == str(_instance(cls))


@pytest.mark.parametrize("caught", [False, True], ids=["uncaught", "caught"])
@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__qualname__)
def test_the_cli_exits_with_each_errors_table_code(cls, caught):
    args = ["raise", f"{cls.__module__}.{cls.__qualname__}"] + (["--caught"] if caught else [])
    result = CliRunner().invoke(CLI, args)
    assert result.exit_code == rule_for(cls).exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "".join(str(_instance(cls)).split()) in "".join(result.output.split())  # wrapped


def _imports_http_exception(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "HTTPException" for a in node.names):
            return True
        if isinstance(node, ast.Attribute) and node.attr == "HTTPException":
            return True
    return False


def test_services_and_lower_layers_never_raise_http_errors():
    below_routes = [ROOT / "gis", ROOT / "maps", ROOT / "api" / "services", ROOT / "api" / "db"]
    files = [p for folder in below_routes for p in folder.rglob("*.py")]
    assert len(files) > 50
    assert [str(p.relative_to(ROOT)) for p in files if _imports_http_exception(p)] == []


def test_the_readme_table_is_the_error_table():
    """README's error table names each listed class with the table's status and exit code."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {}
    for cells in (line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ")):
        if len(cells) == 3 and cells[1].strip()[:3].isdigit():
            rows[cells[0]] = (int(cells[1].strip()[:3]), int(cells[2].strip()))
    listed = [cls for cls in ERROR_TABLE if cls is not WanggeError and cls.__name__ != "ApiError"]
    for cls in listed:
        found = [v for k, v in rows.items() if f"`{cls.__name__}`" in k]
        assert found, f"README's error table lacks {cls.__name__}"
        assert found[0] == (ERROR_TABLE[cls].status, ERROR_TABLE[cls].exit_code), cls.__name__
