"""``api.db.dry_run`` itself, on both databases: what a dry run counts, and that nothing stays.

The commands' dry runs are checked end to end in test_cli_dry_run.py; here the scope is driven
directly: sessions that commit, Core statements, an error half way, and files.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from api.db.dry_run import OutputPlan, output_plan, write_scope
from api.db.engine import make_engine, open_database
from api.db.models import Street


@pytest.fixture
def url(fresh_db_url) -> str:
    open_database(fresh_db_url).dispose()
    return fresh_db_url


def _streets(url: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT code, name FROM streets ORDER BY code")).all()
    finally:
        engine.dispose()


def _add_streets(sessions, codes: list[str]) -> None:
    for code in codes:
        with sessions.begin() as session:  # each one committed, as a job would
            session.add(Street(code=code, name=f"街道{code[-3:]}"))


def test_commits_inside_a_dry_run_are_rolled_back_and_counted(url):
    with write_scope(url, dry_run=True) as scope:
        _add_streets(scope.sessions, ["310101001", "310101002", "310101003"])
        with scope.begin() as conn:  # Core, in the same transaction: sees the ORM's rows
            conn.execute(sa.update(Street.__table__).where(Street.code == "310101002")
                         .values(name="改名"))  # fmt: skip
            conn.execute(sa.delete(Street.__table__).where(Street.code == "310101003"))
        with scope.sessions() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Street)) == 2
    change = scope.report.tables["streets"]
    assert (change.before, change.after, change.inserted) == (0, 2, 3)
    assert (change.updated, change.deleted) == (1, 1)
    assert _streets(url) == []
    # the same job for real writes what the dry run said
    with write_scope(url, dry_run=False) as scope:
        _add_streets(scope.sessions, ["310101001", "310101002"])
    assert len(_streets(url)) == change.after


def test_an_error_in_a_dry_run_propagates_and_leaves_nothing(url):
    with pytest.raises(sa.exc.IntegrityError), write_scope(url, dry_run=True) as scope:
        _add_streets(scope.sessions, ["310101001", "310101001"])
    assert _streets(url) == []


def test_files_go_to_a_temporary_folder_and_are_reported(tmp_path):
    existing = tmp_path / "old.txt"
    existing.write_text("old", encoding="utf-8")
    with output_plan(True) as plan:
        new = plan.path(tmp_path / "sub" / "new.txt")
        new.write_text("12345", encoding="utf-8")
        new.with_suffix(".cpg").write_text("UTF-8", encoding="utf-8")  # a sibling, as .shp's
        plan.path(existing).write_text("newer", encoding="utf-8")
        folder = plan.path(tmp_path / "maps")
        folder.mkdir()
        (folder / "a.html").write_text("<p>", encoding="utf-8")
        assert plan.shown(new) == tmp_path / "sub" / "new.txt"
        assert plan.shown(folder / "a.html") == tmp_path / "maps" / "a.html"
        stand_ins = new.parent.parent  # the temporary folder holding every stand-in
    files = {f.path: (f.bytes, f.replaces) for f in plan.report.files}
    assert files == {
        str(tmp_path / "sub" / "new.txt"): (5, False),
        str(tmp_path / "sub" / "new.cpg"): (5, False),
        str(existing): (5, True),
        str(tmp_path / "maps" / "a.html"): (3, False),
    }
    assert not stand_ins.exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["old.txt"]
    assert existing.read_text(encoding="utf-8") == "old"
    # not a dry run: the real paths, nothing reported
    real = OutputPlan(False)
    assert real.path(existing) == existing
    real.finish()
    assert real.report.files == []
