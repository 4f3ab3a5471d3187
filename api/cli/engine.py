"""``--engine dask`` for ``wangge assign`` and ``wangge validate --by community``.

On one machine the command starts a local cluster (``--workers`` processes, one thread each,
``--memory-limit`` each) and shuts it down when done; with ``--scheduler ADDRESS`` it uses a
running cluster (whose workers have wangge installed and share the output's storage).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from api.cli.inputs import read_input
from api.cli.output import err
from gis.errors import InputError, WanggeError

__all__ = [
    "ByOption",
    "CommunityFieldOption",
    "Engine",
    "EngineOption",
    "MemoryLimitOption",
    "PartitionRowsOption",
    "SchedulerOption",
    "SpatialShuffleOption",
    "ThreadsOption",
    "WorkersOption",
    "assign_with_dask",
    "check_engine_options",
    "community_summary",
    "engine_client",
    "validate_by_community",
    "write_findings",
]


class Engine(enum.StrEnum):
    """Where a batch command runs."""

    default = "default"
    dask = "dask"


EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="default：本进程；dask：Dask 集群（本地或 --scheduler）/ default: this process; "
        "dask: a Dask cluster (local, or --scheduler)",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="已运行的 Dask 调度器地址（如 tcp://host:8786）；不给则启动本地集群 / address of a "
        "running Dask scheduler (e.g. tcp://host:8786); without it a local cluster is started",
    ),
]
WorkersOption = Annotated[
    int,
    typer.Option("--workers", min=1, help="本地集群的工作进程数 / local cluster worker processes"),
]
ThreadsOption = Annotated[
    int,
    typer.Option(
        "--threads",
        min=1,
        help="本地集群每个工作进程的线程数 / threads per local worker process",
    ),
]
MemoryLimitOption = Annotated[
    str,
    typer.Option(
        "--memory-limit",
        help="本地集群每个工作进程的内存上限（如 2GB；auto 为均分本机内存）/ memory limit per "
        "local worker (e.g. 2GB; auto: the machine's memory shared out)",
    ),
]
SpatialShuffleOption = Annotated[
    bool,
    typer.Option(
        "--spatial-shuffle",
        help="先按 Hilbert 曲线重排点，使每个分区在空间上紧凑 / first reorder the points along a "
        "Hilbert curve so that each partition is spatially compact",
    ),
]
PartitionRowsOption = Annotated[
    int,
    typer.Option(
        "--partition-rows",
        min=1,
        help="每个分区的最多行数（工作进程内存的单位）/ at most this many rows per partition "
        "(the unit of memory on a worker)",
    ),
]


class By(enum.StrEnum):
    """What ``wangge validate --by`` splits the files into."""

    community = "community"


ByOption = Annotated[
    By | None,
    typer.Option(
        "--by",
        help="community：文件含多个社区，逐个社区对照其边界校验 / community: the files hold many "
        "communities; validate each against its own boundary",
    ),
]
CommunityFieldOption = Annotated[
    str,
    typer.Option(
        "--community-field",
        help="网格与边界文件中的社区字段 / the community field of the grids and boundary files",
    ),
]


def check_engine_options(engine: Engine, scheduler: str | None) -> None:
    """Refuse Dask options given without ``--engine dask``."""
    if engine is not Engine.dask and scheduler is not None:
        raise InputError("--scheduler 需配合 --engine dask / --scheduler needs --engine dask")


def engine_client(scheduler: str | None, workers: int, memory_limit: str, threads: int = 1):
    """The Dask client block: a running cluster's, or a local cluster's (shut down after)."""
    from gis.dask_assign import dask_client

    limit = None if memory_limit == "none" else memory_limit
    return dask_client(scheduler, workers=workers, memory_limit=limit, threads=threads)


def assign_with_dask(
    points: Path,
    grids: Path,
    out_path: Path,
    *,
    code_field: str,
    input_crs: str | None,
    grids_crs: str | None,
    grids_layer: str | None,
    scheduler: str | None,
    workers: int,
    memory_limit: str,
    partition_rows: int,
    spatial_shuffle: bool = False,
    threads: int = 1,
):
    """``wangge assign --engine dask``: build the grid index here, assign on the cluster."""
    from gis.assign import GridIndex
    from gis.dask_assign import assign_on_cluster

    if out_path.suffix.lower() not in (".parquet", ""):
        raise InputError(
            f"{out_path}: --engine dask 写 GeoParquet：以 .parquet 结尾的文件，或一个目录 / "
            "--engine dask writes GeoParquet: a file ending in .parquet, or a directory"
        )
    grid_frame = read_input(
        grids, layer=grids_layer, crs=grids_crs, layer_option="--grids-layer",
        crs_option="--grids-crs", geometry_type="polygon",
    )  # fmt: skip
    if code_field not in grid_frame.columns:
        raise WanggeError(f"{grids}: 没有编码字段 '{code_field}' / no code field")
    index = GridIndex(grid_frame, code_field=code_field, one_shot=True)
    with (
        engine_client(scheduler, workers, memory_limit, threads) as client,
        err.status("Dask 集群上空间连接中 / joining on the Dask cluster…"),
    ):
        return assign_on_cluster(
            points, index, out_path, client=client, input_crs=input_crs,
            partition_rows=partition_rows, spatial=spatial_shuffle,
        )  # fmt: skip


def validate_by_community(
    grids, boundaries, *, by: str, code_field: str, tolerance_m: float, noise_m: float,
    engine: Engine, scheduler: str | None, workers: int, memory_limit: str,
):  # fmt: skip
    """``wangge validate --by community``: each community alone, on the cluster with dask."""
    from gis.coverage.communities import validate_communities

    options = {"by": by, "code_field": code_field, "tolerance_m": tolerance_m, "noise_m": noise_m}
    if engine is not Engine.dask:
        with err.status("校验中 / validating…"):
            return validate_communities(grids, boundaries, **options)
    with (
        engine_client(scheduler, workers, memory_limit) as client,
        err.status("Dask 集群上校验中 / validating on the Dask cluster…"),
    ):
        return validate_communities(grids, boundaries, **options, client=client)


def community_summary(findings, per_community: dict) -> list[dict]:
    """Per community: its code, number of grids, findings and whether it is valid."""
    summary = []
    for key, n_grids in per_community.items():
        mine = findings[findings["community"] == key] if len(findings) else findings
        errors = int((mine["severity"] == "error").sum()) if len(mine) else 0
        summary.append(
            {"community": str(key), "grids": n_grids, "findings": len(mine), "valid": not errors}
        )
    return summary


def write_findings(findings, collection: dict, path: Path) -> Path:
    """Write validation findings: GeoJSON as before (``.geojson``/``.json``), any other
    format :func:`gis.io.write_layer` writes by its extension (GeoParquet for ``.parquet``)."""
    import json

    from gis.io import write_layer

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".geojson", ".json"):
        path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
        return path
    return write_layer(findings, path)
