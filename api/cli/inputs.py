"""How a command reads its input files: each in its own CRS unless an option says otherwise,
with errors that name the option fixing them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.cli.output import err

__all__ = ["read_division", "read_grids", "read_input"]


def read_input(
    path: Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    layer_option: str = "--layer",
    crs_option: str = "--input-crs",
    **kwargs: Any,
):
    """Read one input file with :func:`gis.io.read_layer`, in its own CRS unless ``crs`` says.

    Errors name the command-line options (``layer_option``, ``crs_option``) that fix them;
    warnings the reader collected (an encoding guessed) are printed on stderr.
    """
    from gis.io import read_layer

    frame = read_layer(
        path, layer=layer, input_crs=crs, layer_hint=layer_option, crs_hint=crs_option, **kwargs
    )
    for warning in frame.attrs.get("read_warnings", []):
        err.print(f"[yellow]警告 / warning:[/] {warning}", highlight=False, markup=True)
    return frame


def read_grids(path: Path, *, code_field: str, layer: str | None, crs: str | None):
    """The grids a command only looks points up in (``--grids``, ``--grids-layer``,
    ``--grids-crs``): a :class:`~gis.grid_arrays.GridArrays` when the light reader can read
    the file exactly as :func:`read_input` would (GeoPackage, GeoParquet: no pandas or GDAL
    imported), else a GeoDataFrame from :func:`read_input`, its code field checked."""
    from gis.io.grid_layers import read_grid_layer

    light = read_grid_layer(path, code_field=code_field, layer=layer, input_crs=crs)
    if light is not None:
        return light
    return read_grid_frame(path, code_field=code_field, layer=layer, crs=crs)


def read_grid_frame(path: Path, *, code_field: str, layer: str | None, crs: str | None):
    """The grids of ``--grids`` (``--grids-layer``, ``--grids-crs``) as a GeoDataFrame read by
    :func:`read_input`, its code field checked."""
    from gis.codes import require_code_field

    frame = read_input(
        path, layer=layer, crs=crs, layer_option="--grids-layer", crs_option="--grids-crs",
        geometry_type="polygon",
    )  # fmt: skip
    require_code_field(frame, code_field, source=path)
    return frame


def read_division(
    grids: Path,
    boundary: Path,
    *,
    code_field: str,
    grids_crs: str | None = None,
    boundary_crs: str | None = None,
    grids_layer: str | None = None,
    boundary_layer: str | None = None,
    grids_layer_option: str = "--layer",
    keep_projected: bool = False,
):
    """Read a division and its community boundary (any gis.io format); check the code field.

    Each file is read in its own CRS unless ``grids_crs``/``boundary_crs`` says otherwise.
    ``keep_projected``: a file in a projected CRS stays in it (a division is judged as drawn,
    see :func:`gis.io.read_layer`); otherwise every file comes back in lon/lat.
    """
    from gis.codes import require_code_field

    grid_frame = read_input(
        grids, layer=grids_layer, crs=grids_crs, layer_option=grids_layer_option,
        crs_option="--grids-crs", geometry_type="polygon", keep_projected=keep_projected,
    )  # fmt: skip
    boundary_frame = read_input(
        boundary, layer=boundary_layer, crs=boundary_crs, layer_option="--boundary-layer",
        crs_option="--boundary-crs", geometry_type="polygon", keep_projected=keep_projected,
    )  # fmt: skip
    require_code_field(grid_frame, code_field, source=grids)
    return grid_frame, boundary_frame
