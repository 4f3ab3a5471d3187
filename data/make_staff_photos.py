"""Draw the demo staff's placeholder portraits: a neutral silhouette and the surname.

Run from the repository root::

    .venv/bin/python data/make_staff_photos.py      # data/demo/staff.csv → data/demo/staff_photos/

Every demo staff member is fictional, so is every portrait: a grey silhouette on a colour of
their role, their surname, and 示意照片 / ILLUSTRATIVE across the foot, so nobody mistakes one
for a real photograph. Each ``photo_path`` of ``staff.csv`` (``S001.png``, …) names the file
inside the folder; the same table always gives byte-identical PNGs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "data" / "demo"
PHOTO_FOLDER = "staff_photos"  # inside data/demo/
SIZE_PX = (240, 300)  # width, height: a 4:5 ID-photo shape
FONT_FILE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FONT_INDEX_SC = 2  # JP, KR, SC, TC, HK in Debian's collection
ROLE_COLOURS = {
    "grid_leader": "#c9dcef",
    "grid_worker": "#d5ead3",
    "grid_police": "#dcd6ec",
    "grid_instructor": "#f0e0c8",
    "part_time_worker": "#e8e8d0",
}

__all__ = ["draw_staff_photo", "photo_file_name", "write_staff_photos"]


def photo_file_name(staff_id: str) -> str:
    """The file of a staff member's portrait inside the photo folder (``S001`` → ``S001.png``)."""
    return f"{staff_id}.png"


def _font(size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(FONT_FILE, size, index=FONT_INDEX_SC)
    except OSError as exc:
        raise SystemExit(
            f"找不到 Noto Sans CJK 字体 / Noto Sans CJK not found ({FONT_FILE}): "
            "apt-get install fonts-noto-cjk"
        ) from exc


def draw_staff_photo(name: str, role: str, path: Path) -> Path:
    """Write a placeholder portrait of ``name`` (a silhouette and the surname) to ``path``."""
    width, height = SIZE_PX
    image = Image.new("RGB", SIZE_PX, ROLE_COLOURS.get(role, "#e3e3e3"))
    draw = ImageDraw.Draw(image)
    grey = "#8c96a0"
    cx = width // 2
    draw.ellipse((cx - 52, 42, cx + 52, 150), fill=grey)  # head
    draw.rounded_rectangle((cx - 36, 138, cx + 36, 172), radius=10, fill=grey)  # neck
    draw.ellipse((cx - 112, 160, cx + 112, 360), fill=grey)  # shoulders
    surname = name[:1]
    draw.text((cx, 222), surname, font=_font(58), fill="white", anchor="mm")
    draw.rectangle((0, height - 34, width, height), fill="#ffffff")
    draw.text(
        (cx, height - 17), "示意照片 / ILLUSTRATIVE", font=_font(15), fill="#555555", anchor="mm"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", optimize=True)
    return path


def write_staff_photos(staff: pd.DataFrame, folder: Path) -> list[Path]:
    """Draw one portrait per row of ``staff`` (``name``, ``role``, ``photo_path``) in ``folder``."""
    return [
        draw_staff_photo(str(r["name"]), str(r["role"]), folder / str(r["photo_path"]))
        for r in staff.to_dict("records")
        if isinstance(r.get("photo_path"), str) and r["photo_path"]
    ]


def main(argv: list[str] | None = None) -> int:
    """Add ``photo_path`` to data/demo/staff.csv if it lacks it, then draw the portraits."""
    del argv
    table = DEMO_DIR / "staff.csv"
    staff = pd.read_csv(table, dtype=str, keep_default_na=False)
    if "photo_path" not in staff.columns:
        staff["photo_path"] = staff["staff_id"].map(photo_file_name)
        staff.to_csv(table, index=False, encoding="utf-8", lineterminator="\n")
    written = write_staff_photos(staff, DEMO_DIR / PHOTO_FOLDER)
    print(f"{len(written)} portraits → {DEMO_DIR / PHOTO_FOLDER}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
