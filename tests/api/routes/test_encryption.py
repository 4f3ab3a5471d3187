"""Personal data encrypted at rest: the cipher, the database files, dumps and backups, the
migration that encrypts existing rows, key rotation and the refusal to store without a key."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import geopandas as gpd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.core.config import get_settings
from api.core.crypto import (
    DataKeyError,
    Keyring,
    MissingDataKeyError,
    keyring,
    new_data_key,
    parse_data_key,
    reset_keyring,
    set_keyring,
)
from api.db.engine import make_engine, session_factory
from api.db.migrate import upgrade
from api.db.models import Resident
from api.services.backup import _pg, _pg_tool, backup
from tests.api.routes.conftest import DEMO_GRIDS, valid_id_number

RING = Keyring(parse_data_key(new_data_key()))
DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"


# --------------------------------------------------------------------------- the cipher


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=80))
def test_encrypt_then_decrypt_gives_the_text_back_and_hides_it(text):
    sealed = RING.encrypt(text, context="residents.phone")
    assert RING.decrypt(sealed, context="residents.phone") == text
    assert sealed.startswith(f"wg1:{RING.current.key_id}:")
    if len(text) >= 4:
        assert text not in sealed
    # a fresh nonce each time: equal values do not give equal ciphertexts
    assert RING.encrypt(text, context="residents.phone") != sealed


def test_tampering_another_column_or_another_key_is_refused():
    sealed = RING.encrypt("13900001234", context="residents.phone")
    body = sealed.rsplit(":", 1)[1]
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(DataKeyError, match="fails its check"):
        RING.decrypt(sealed.rsplit(":", 1)[0] + ":" + flipped, context="residents.phone")
    with pytest.raises(DataKeyError, match="fails its check"):
        RING.decrypt(sealed, context="residents.id_number")
    other = Keyring(parse_data_key(new_data_key()))
    with pytest.raises(DataKeyError, match=RING.current.key_id):
        other.decrypt(sealed, context="residents.phone")
    # an old key kept in a keyring still opens what it sealed
    assert Keyring(other.current, RING.current).decrypt(sealed, context="residents.phone")


@pytest.mark.parametrize("text", ["", "short", base64.urlsafe_b64encode(b"x" * 31).decode()])
def test_a_malformed_key_is_refused_naming_its_source(text):
    with pytest.raises(DataKeyError, match=r"WANGGE_DATA_KEY.*32 bytes"):
        parse_data_key(text)


def test_keyed_hash_is_stable_per_key_and_column():
    a = RING.blind_index("11010519491231002X", context="residents.id_number")
    assert a == RING.blind_index("11010519491231002X", context="residents.id_number")
    assert a != RING.blind_index("11010519491231002X", context="residents.phone")
    other = Keyring(parse_data_key(new_data_key()))
    assert a != other.blind_index("11010519491231002X", context="residents.id_number")


# --------------------------------------------------------------------------- at rest


def encodings(text: str) -> dict[str, bytes]:
    """``text`` as it could appear in a file: UTF-8, UTF-16, hex, base64 at each alignment."""
    raw = text.encode("utf-8")
    found = {
        "utf-8": raw,
        "utf-16-le": text.encode("utf-16-le"),
        "utf-16-be": text.encode("utf-16-be"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
    }
    for shift in range(3):
        whole = 4 * ((len(raw) - shift) // 3)  # only the groups not touched by neighbours
        found[f"base64+{shift}"] = base64.b64encode(raw[shift:])[:whole]
        found[f"base64url+{shift}"] = base64.urlsafe_b64encode(raw[shift:])[:whole]
    return found


def leaks(blob: bytes, *secrets: str) -> list[str]:
    """The secrets (and the encodings) found in ``blob``."""
    return [f"{s} as {name}" for s in secrets for name, enc in encodings(s).items() if enc in blob]


def _sqlite_bytes(url: str) -> bytes:
    path = Path(sa.make_url(url).database)
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def _pg_text(url: str, archive: Path | None = None) -> bytes:
    """A plain-SQL dump of the database (or the plain SQL of a custom-format ``archive``)."""
    pg = _pg(sa.make_url(url))
    if archive is None:
        cmd = [_pg_tool("pg_dump", pg.major), "--format=plain", "--no-owner"]
    else:
        cmd = [_pg_tool("pg_restore", pg.major), "--file=-", str(archive)]
    return subprocess.run(cmd, env=pg.env, capture_output=True, check=True).stdout


def _house_and_resident(api, name: str) -> tuple[int, str, str]:
    """A house in the grid worker's grid, and a resident in it (both through the API)."""
    grids = gpd.read_file(DEMO / "grids.geojson")
    spot = grids.loc[grids["code"] == DEMO_GRIDS[0]].geometry.iloc[0].representative_point()
    community_id = api.client.get("/communities", headers=api.as_("admin")).json()["data"][0]["id"]
    house = api.client.post(
        "/houses",
        headers=api.as_("community_head"),
        json={"community_id": community_id, "address": "加密路 1 号", "house_type": "01",
              "lon": spot.x, "lat": spot.y},
    )  # fmt: skip
    assert house.status_code == 201, house.text
    id_number, phone = valid_id_number(517), "13912345678"
    r = api.client.post(
        "/residents",
        headers=api.as_("community_head"),
        json={"house_id": house.json()["id"], "name": name, "id_number": id_number,
              "gender": "1", "population_type": "10", "phone": phone},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()["id"], id_number, phone


def test_database_dump_and_backup_hold_no_id_number_or_phone(demo_api, tmp_path):
    api = demo_api
    name = "加密测试居民"
    rid, id_number, phone = _house_and_resident(api, name)
    # change the phone once, so that the change log holds an old and a new value too
    new_phone = "13787654321"
    r = api.client.patch(
        f"/residents/{rid}", headers=api.as_("community_head"), json={"phone": new_phone}
    )
    assert r.status_code == 200, r.text
    secrets = (id_number, phone, new_phone)
    out = backup(api.url, tmp_path / "backup.bin")
    if api.url.startswith("sqlite"):
        stored, backed_up = _sqlite_bytes(api.url), Path(out["file"]).read_bytes()
    else:
        stored, backed_up = _pg_text(api.url), _pg_text(api.url, Path(out["file"]))
    # the search works on these bytes: the (unencrypted) name is found in both
    assert leaks(stored, name) and leaks(backed_up, name)
    assert leaks(stored, *secrets) == [] and leaks(backed_up, *secrets) == []
    # with the key and an approved request the values still read in full
    req = api.client.post(
        "/access-requests",
        headers=api.as_("grid_worker"),
        json={"resident_id": rid, "reason": "入户核查 / household check"},
    )
    assert req.status_code == 201, req.text
    ok = api.client.post(
        f"/access-requests/{req.json()['id']}/approve",
        headers=api.as_("community_head"),
        json={"valid_hours": 1},
    )
    assert ok.status_code == 200, ok.text
    full = api.client.get(
        f"/residents/{rid}", headers=api.as_("grid_worker"), params={"unmask": True}
    ).json()
    assert (full["masked"], full["id_number"], full["phone"]) == (False, id_number, new_phone)
    masked = api.client.get(f"/residents/{rid}", headers=api.as_("grid_worker")).json()
    assert masked["masked"] is True and masked["id_number"] != id_number
    # the history still shows (masked) values, read through the key
    history = api.client.get(f"/residents/{rid}/history", headers=api.as_("admin")).json()
    phones = [h for h in history["data"] if h["field"] == "phone"]
    assert [(h["old"][:3], h["new"][-4:]) for h in phones] == [("139", "4321")]


@pytest.fixture
def without_data_key(monkeypatch):
    """The process with no data key configured (restored afterwards)."""
    monkeypatch.delenv("WANGGE_DATA_KEY", raising=False)
    monkeypatch.delenv("WANGGE_DATA_KEY_FILE", raising=False)
    get_settings.cache_clear()
    reset_keyring()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()
    reset_keyring()


def test_without_a_key_residents_are_refused_and_nothing_is_written(demo_api, without_data_key):
    with pytest.raises(MissingDataKeyError):
        keyring()
    community_id = demo_api.client.get(
        "/communities", headers=demo_api.as_("admin")
    ).json()["data"][0]["id"]
    house = demo_api.client.post(
        "/houses",
        headers=demo_api.as_("admin"),
        json={"community_id": community_id, "address": "无钥路 1 号", "lon": 121.4875,
              "lat": 31.2372},
    )  # fmt: skip
    assert house.status_code == 201
    before = demo_api.count("residents", "change_log")
    r = demo_api.client.post(
        "/residents",
        headers=demo_api.as_("admin"),
        json={"house_id": house.json()["id"], "name": "无钥", "id_number": valid_id_number(9),
              "gender": "1", "population_type": "10"},
    )  # fmt: skip
    assert r.status_code == 503 and "WANGGE_DATA_KEY" in r.json()["detail"]
    assert demo_api.count("residents", "change_log") == before


# --------------------------------------------------------------------------- migration


def test_migration_encrypts_existing_rows_and_keeps_their_children(fresh_db_url):
    engine = make_engine(fresh_db_url)
    from api.db.engine import _init_spatial_metadata

    _init_spatial_metadata(engine)
    upgrade(engine, "0004_assessment")
    id_number, phone = valid_id_number(33), "13811112222"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO communities (id, code, name) VALUES (1, '310101002005', '测试社区')"
        )
        conn.exec_driver_sql("INSERT INTO houses (id, community_id) VALUES (1, 1)")
        conn.execute(
            sa.text(
                "INSERT INTO residents (id, house_id, name, id_number, phone, "
                "residence_permit_no, created_at) VALUES (1, 1, '旧居民', :i, :p, 'P123456', "
                "'2026-01-01 00:00:00')"
            ),
            {"i": id_number, "p": phone},
        )
        conn.exec_driver_sql(
            "INSERT INTO special_statuses (id, resident_id, category, fields) "
            "VALUES (1, 1, 'elderly_alone', '{}')"
        )
        conn.execute(
            sa.text(
                "INSERT INTO change_log (at, table_name, record_id, action, field, old_value, "
                "new_value) VALUES ('2026-01-01 00:00:00', 'residents', 1, 'update', 'phone', "
                ":old, :new)"
            ),
            {"old": '"13800000000"', "new": f'"{phone}"'},
        )
    upgrade(engine)
    with engine.connect() as conn:
        raw = conn.exec_driver_sql(
            "SELECT id_number, phone, residence_permit_no, id_number_hash FROM residents"
        ).one()
        logged = conn.exec_driver_sql("SELECT old_value, new_value FROM change_log").one()
        children = conn.exec_driver_sql("SELECT count(*) FROM special_statuses").scalar_one()
    assert all(str(v).startswith("wg1:") for v in raw[:3]) and children == 1
    assert raw[3] == keyring().blind_index(id_number, context="residents.id_number")
    assert not leaks(repr(logged).encode(), phone, "13800000000")
    with session_factory(engine)() as session:
        resident = session.get(Resident, 1)
        assert (resident.id_number, resident.phone, resident.residence_permit_no) == (
            id_number, phone, "P123456"
        )  # fmt: skip
        # exact look-up by the keyed hash
        hit = session.scalar(
            sa.select(Resident.id).where(
                Resident.id_number_hash
                == keyring().blind_index(id_number, context="residents.id_number")
            )
        )
        assert hit == 1
    engine.dispose()


# --------------------------------------------------------------------------- rotation


def test_keys_rotate_re_encrypts_everything_with_the_new_key(demo_api, tmp_path):
    rid, id_number, phone = _house_and_resident(demo_api, "轮换居民")
    old_ring = keyring()
    key_file = tmp_path / "new.key"
    result = CliRunner().invoke(
        cli_app,
        ["keys", "rotate", "--db", demo_api.url, "--new-key-file", str(key_file), "--json"],
    )
    assert result.exit_code == 0, result.output
    new_ring = Keyring(parse_data_key(key_file.read_text()))
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    engine = make_engine(demo_api.url)
    try:
        with engine.connect() as conn:
            values = conn.execute(
                sa.text("SELECT id_number, phone FROM residents WHERE id = :i"), {"i": rid}
            ).one()
            logged = [
                v
                for row in conn.exec_driver_sql(
                    "SELECT old_value, new_value FROM change_log WHERE table_name = 'residents'"
                )
                for v in row
                if v is not None
            ]
        assert {new_ring.key_id_of(v) for v in values} == {new_ring.current.key_id}
        assert "wg1:" + old_ring.current.key_id not in repr(logged)
        with pytest.raises(DataKeyError):
            old_ring.decrypt(values[0], context="residents.id_number")
        set_keyring(new_ring)
        with session_factory(engine)() as session:
            resident = session.get(Resident, rid)
            assert (resident.id_number, resident.phone) == (id_number, phone)
            assert resident.id_number_hash == new_ring.blind_index(
                id_number, context="residents.id_number"
            )
    finally:
        engine.dispose()
        reset_keyring()
    # rotating again with the old key still configured: it cannot open the new ciphertext
    again = CliRunner().invoke(
        cli_app, ["keys", "rotate", "--db", demo_api.url, "--new-key-file", str(key_file)]
    )
    assert again.exit_code == 2
