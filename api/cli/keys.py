"""``wangge keys new`` and ``wangge keys rotate``: the data key of encrypted personal data.

Exit codes: 0 done, 2 unusable input (no or a malformed key, an unreadable key file, an
unreachable database).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.options import DbOption, DryRunFlag, JsonFlag
from api.cli.output import EXIT_OK, fail_input, out, report_dry_run
from gis.errors import WanggeError

__all__ = ["app", "keys_new_command", "keys_rotate_command"]

app = typer.Typer(
    help="数据密钥（加密居民身份证号码、电话）/ The data key encrypting residents' personal data",
    no_args_is_help=True,
)


@app.command("new")
def keys_new_command() -> None:
    """生成新的数据密钥（32 字节，URL 安全 base64）/ Print a new data key (32 random bytes)."""
    from api.core.crypto import new_data_key

    out.print(new_data_key(), highlight=False)
    raise typer.Exit(EXIT_OK)


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
    dry_run: DryRunFlag = False,
) -> None:
    """用新密钥重新加密全部个人数据 / Re-encrypt all personal data with a new data key.

    Reads the current key from WANGGE_DATA_KEY / WANGGE_DATA_KEY_FILE. Stop the servers
    first, then start them with WANGGE_DATA_KEY_FILE set to the new key file.
    """
    import sqlalchemy as sa

    from api.core.config import get_settings
    from api.core.crypto import DataKeyError
    from api.services.key_rotation import rotate_data_key

    try:
        result = rotate_data_key(db or get_settings().database_url, new_key_file, dry_run=dry_run)
    except (WanggeError, DataKeyError, ValueError, OSError, sa.exc.SQLAlchemyError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        out.print_json(json.dumps(result | {"dry_run": True} if dry_run else result))
    else:
        out.print(
            f"已重新加密 / re-encrypted {result['residents']} 位居民 / residents, "
            f"{result['change_log']} 条变更记录 / change-log rows: "
            f"{result['old_key_id']} → {result['new_key_id']}\n"
            f"请以 WANGGE_DATA_KEY_FILE={new_key_file} 重启服务 / restart the servers with "
            f"WANGGE_DATA_KEY_FILE={new_key_file}"
        )
        if dry_run:
            from api.db.dry_run import WriteReport

            report_dry_run(WriteReport.from_dict(result["would_write"]))
    raise typer.Exit(EXIT_OK)
