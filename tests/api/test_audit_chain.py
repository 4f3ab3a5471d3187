"""The tamper-evident audit log on both engines: ``wangge audit verify`` passes on an intact
log and fails naming the row after one row is edited by hand (append-only triggers dropped,
as someone with file or superuser access would), after one row is deleted, and after the last
rows are deleted; concurrent writers keep one linear chain; the head exported with a backup
catches a log rewritten whole (head row included) after the restore.

The hashes are checked against an implementation written here from the documented rule
(SHA-256 of the previous hash, a newline and the row as sorted compact JSON), not the
module's own function.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.db.engine import make_engine, open_database, session_factory
from api.db.migrations.ddl import append_only_sql, drop_append_only_sql
from api.db.models import ChangeLog
from api.services.privacy import audit

runner = CliRunner()


def _write(url: str, n: int, *, tag: str = "t", migrate: bool = True) -> None:
    engine = open_database(url) if migrate else make_engine(url)
    try:
        with session_factory(engine)() as session:
            for i in range(n):
                detail = {"username": f"{tag}{i}", "client": "127.0.0.1", "中文": "是"}
                audit(session, user=None, action="login_failed", detail=detail)
                if i % 3 == 2:
                    session.commit()
            session.commit()
    finally:
        engine.dispose()


def _sql(url: str, *statements: str, params: dict | None = None, triggers_off: bool = False):
    """Run ``statements`` by hand (with the append-only triggers dropped if asked, then put
    back); return the rows of the last one."""
    engine = make_engine(url)
    sqlite = url.startswith("sqlite")
    rows = None
    try:
        with engine.begin() as conn:
            if triggers_off:
                for s in drop_append_only_sql("audit_log", sqlite=sqlite):
                    conn.execute(sa.text(s))
            for statement in statements:
                result = conn.execute(sa.text(statement), params or {})
                rows = result.all() if result.returns_rows else None
            if triggers_off:
                for s in append_only_sql("audit_log", sqlite=sqlite):
                    conn.execute(sa.text(s))
    finally:
        engine.dispose()
    return rows


def _verify(url: str, *extra: str):
    result = runner.invoke(cli_app, ["audit", "verify", "--db", url, *extra])
    return result.exit_code, " ".join(result.output.split())


def _independent_chain(url: str) -> list[tuple[int, str, str]]:
    """(id, prev_hash, row_hash) recomputed here from the rule in the docs."""
    rows = _sql(url, "SELECT id, at, user_id, username, action, table_name, record_id, detail "
                     "FROM audit_log ORDER BY id")  # fmt: skip
    prev, out = "0" * 64, []
    for id_, at, user_id, username, action, table_name, record_id, detail in rows:
        if isinstance(at, str):  # SQLite gives the text it stored (UTC, no zone)
            at = dt.datetime.fromisoformat(at)
        at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
        detail = json.loads(detail) if isinstance(detail, str) else detail
        body = {"at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "user_id": user_id,
                "username": username, "action": action, "table_name": table_name,
                "record_id": record_id, "detail": detail}  # fmt: skip
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(prev.encode() + b"\n" + text.encode()).hexdigest()
        out.append((id_, prev, digest))
        prev = digest
    return out


def test_verify_passes_then_names_the_edited_and_the_deleted_row(fresh_db_url):
    _write(fresh_db_url, 8)
    stored = _sql(fresh_db_url, "SELECT id, prev_hash, row_hash FROM audit_log ORDER BY id")
    assert [tuple(r) for r in stored] == _independent_chain(fresh_db_url)
    code, text = _verify(fresh_db_url)
    assert code == 0 and "intact" in text and "8" in text
    ids = [r[0] for r in stored]

    # the append-only triggers still stand: an edit through them fails
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        _sql(fresh_db_url, "UPDATE audit_log SET username = 'x' WHERE id = :id",
             params={"id": ids[3]})  # fmt: skip

    # someone drops them and edits one field of one row: that row is named
    _sql(fresh_db_url, "UPDATE audit_log SET action = 'login' WHERE id = :id",
         params={"id": ids[3]}, triggers_off=True)  # fmt: skip
    code, text = _verify(fresh_db_url)
    assert code == 1 and f"row {ids[3]} was altered" in text
    # ... and recomputes that row's own hash too: the next row no longer follows it
    rehashed = _independent_chain(fresh_db_url)[3][2]
    _sql(fresh_db_url, "UPDATE audit_log SET row_hash = :h WHERE id = :id",
         params={"h": rehashed, "id": ids[3]}, triggers_off=True)  # fmt: skip
    code, text = _verify(fresh_db_url)
    assert code == 1 and f"row {ids[4]} does not follow row {ids[3]}" in text


def test_a_deleted_row_and_deleted_last_rows_are_found(fresh_db_url):
    _write(fresh_db_url, 6)
    ids = [r[0] for r in _sql(fresh_db_url, "SELECT id FROM audit_log ORDER BY id")]
    _sql(fresh_db_url, "DELETE FROM audit_log WHERE id = :id", params={"id": ids[2]},
         triggers_off=True)  # fmt: skip
    code, text = _verify(fresh_db_url)
    assert code == 1 and f"row {ids[3]} does not follow row {ids[1]}" in text


def test_deleting_the_tail_is_found_by_the_head(fresh_db_url):
    _write(fresh_db_url, 5)
    ids = [r[0] for r in _sql(fresh_db_url, "SELECT id FROM audit_log ORDER BY id")]
    _sql(fresh_db_url, "DELETE FROM audit_log WHERE id >= :id", params={"id": ids[3]},
         triggers_off=True)  # fmt: skip
    code, text = _verify(fresh_db_url)
    assert code == 1 and f"records row {ids[4]} but the log ends at row {ids[2]}" in text


def test_concurrent_writers_keep_one_linear_chain(fresh_db_url):
    """Four threads, each its own engine and sessions, write at once; the chain holds."""
    errors: list[BaseException] = []
    open_database(fresh_db_url).dispose()  # migrated once, before the writers start

    def writer(tag: str) -> None:
        try:
            _write(fresh_db_url, 15, tag=tag, migrate=False)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{k}-",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and errors == []
    stored = _sql(fresh_db_url, "SELECT id, prev_hash, row_hash FROM audit_log ORDER BY id")
    assert len(stored) == 60
    assert [tuple(r) for r in stored] == _independent_chain(fresh_db_url)
    assert _verify(fresh_db_url)[0] == 0


def test_rows_are_written_at_commit_and_go_with_their_savepoint(fresh_db_url):
    """Audit rows wait for the commit (the chain head is a transaction's last lock): a flush
    writes none; a row added in a savepoint rolled back is dropped, one in a savepoint
    released is kept, a transaction rolled back writes none, and a commit that writes other
    rows too writes them."""
    engine = open_database(fresh_db_url)
    count = sa.text("SELECT count(*) FROM audit_log")
    try:
        with session_factory(engine)() as session:
            audit(session, user=None, action="outer")
            session.flush()
            assert session.execute(count).scalar() == 0  # not yet
            dropped = session.begin_nested()
            audit(session, user=None, action="in_rolled_back_savepoint")
            session.flush()
            dropped.rollback()
            kept = session.begin_nested()
            audit(session, user=None, action="in_released_savepoint")
            session.flush()
            kept.commit()
            session.commit()
            audit(session, user=None, action="rolled_back")
            session.flush()
            session.rollback()
            audit(session, user=None, action="last")
            # written in the same commit as another row (a flush with work of its own)
            session.add(ChangeLog(username="x", table_name="houses", record_id=1,
                                  action="insert", new_value={"n": 1}))  # fmt: skip
            session.commit()
    finally:
        engine.dispose()
    rows = _sql(fresh_db_url, "SELECT action FROM audit_log ORDER BY id")
    assert [r[0] for r in rows] == ["outer", "in_released_savepoint", "last"]
    assert _verify(fresh_db_url)[0] == 0


def test_the_head_goes_with_the_backup_and_checks_the_restore(fresh_db_url, empty_target,
                                                              tmp_path):  # fmt: skip
    _write(fresh_db_url, 7)
    out = tmp_path / "wangge.backup"
    made = runner.invoke(cli_app, ["backup", "--db", fresh_db_url, "--out", str(out), "--json"])
    assert made.exit_code == 0, made.output
    head_file = tmp_path / "wangge.backup.audit-head.json"
    head = json.loads(head_file.read_text(encoding="utf-8"))
    last_id, _prev, last_hash = _independent_chain(fresh_db_url)[-1]
    assert (head["last_id"], head["last_hash"], head["rows"]) == (last_id, last_hash, 7)

    restored = runner.invoke(cli_app, ["restore", str(out), "--db", empty_target, "--json"])
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout)["audit"]["ok"] is True
    assert _verify(empty_target, "--head", str(head_file))[0] == 0

    # rewrite the restored log whole: drop the last two rows and fix the head row to match;
    # the chain holds by itself, but not against the head exported with the backup
    ids = [r[0] for r in _sql(empty_target, "SELECT id FROM audit_log ORDER BY id")]
    _sql(empty_target,
         "DELETE FROM audit_log WHERE id >= :id",
         "UPDATE audit_chain_head SET last_id = (SELECT max(id) FROM audit_log), "
         "last_hash = (SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1)",
         params={"id": ids[-2]}, triggers_off=True)  # fmt: skip
    assert _verify(empty_target)[0] == 0
    code, text = _verify(empty_target, "--head", str(head_file))
    assert code == 1 and f"row {ids[-1]} of the exported chain head is gone" in text
