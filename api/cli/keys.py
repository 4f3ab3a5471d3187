"""``wangge keys new`` and ``wangge keys rotate``: the data key of encrypted personal data.

Exit codes: 0 done, 2 unusable input (no or a malformed key, an unreadable key file, an
unreachable database).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from api.cli.options import DbOption, JsonFlag
from api.cli.output import EXIT_OK, fail_input, out
from api.core.crypto import (
    DataKeyError,
    Keyring,
    keyring,
    new_data_key,
    parse_data_key,
    write_key_file,
)
from gis.errors import WanggeError

__all__ = ["app", "rotate_data_key"]

app = typer.Typer(
    help="数据密钥（加密居民身份证号码、电话）/ The data key encrypting residents' personal data",
    no_args_is_help=True,
)


@app.command("new")
def keys_new_command() -> None:
    """生成新的数据密钥（32 字节，URL 安全 base64）/ Print a new data key (32 random bytes)."""
    out.print(new_data_key(), highlight=False)
    raise typer.Exit(EXIT_OK)


def rotate_data_key(db_url: str, new_key_file: Path) -> dict[str, object]:
    """Re-encrypt every sealed value of ``db_url`` from the configured key to the key in
    ``new_key_file`` (made there, mode 0600, when the file does not exist); one transaction.

    Returns the old and new key ids and the rows rewritten.
    """
    from api.db.data_keys import reseal
    from api.db.engine import open_database

    old = keyring()
    if new_key_file.exists():
        new_key = parse_data_key(new_key_file.read_text(encoding="ascii"), source=str(new_key_file))
    else:
        text = new_data_key()
        new_key = parse_data_key(text)
        write_key_file(new_key_file, text)
    if new_key.key_id == old.current.key_id:
        raise DataKeyError(f"{new_key_file}: 新密钥与当前密钥相同 / the new key is the current key")
    engine = open_database(db_url)
    try:
        with engine.begin() as conn:
            counts = reseal(conn, old=old, new=Keyring(new_key))
    finally:
        engine.dispose()
    return {"old_key_id": old.current.key_id, "new_key_id": new_key.key_id, **counts}


@app.command("rotate")
def keys_rotate_command(
    new_key_file: Annotated[
        Path,
        typer.Option(
            "--new-key-file",
            help="新密钥文件（不存在则生成，权限 0600）/ file of the new key (made when missing)",
        ),
    ],
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """用新密钥重新加密全部个人数据 / Re-encrypt all personal data with a new data key.

    Reads the current key from WANGGE_DATA_KEY / WANGGE_DATA_KEY_FILE. Stop the servers
    first, then start them with WANGGE_DATA_KEY_FILE set to the new key file.
    """
    from api.core.config import get_settings

    try:
        result = rotate_data_key(db or get_settings().database_url, new_key_file)
    except (WanggeError, DataKeyError, ValueError, OSError, sa.exc.SQLAlchemyError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        out.print_json(json.dumps(result))
    else:
        out.print(
            f"已重新加密 / re-encrypted {result['residents']} 位居民 / residents, "
            f"{result['change_log']} 条变更记录 / change-log rows: "
            f"{result['old_key_id']} → {result['new_key_id']}\n"
            f"请以 WANGGE_DATA_KEY_FILE={new_key_file} 重启服务 / restart the servers with "
            f"WANGGE_DATA_KEY_FILE={new_key_file}"
        )
    raise typer.Exit(EXIT_OK)
