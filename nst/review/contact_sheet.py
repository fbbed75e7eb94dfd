"""Contact sheet: content images down the left, style images along the top, results in between.

Layout (no margins): every cell is ``cell`` x ``cell`` pixels, so the sheet is
``(len(style_images) + 1) * cell`` wide and ``(len(content_images) + 1) * cell`` high.
The top-left cell is blank; header cells show the thumbnail above a small id label.
"""
from __future__ import annotations

from pathlib import Path
from typing import Hashable, Mapping

from PIL import Image, ImageDraw, ImageFont

from ..atomic import save_image
from ..errors import NSTError
from ..image_files import fit_text, read_thumbnail, unreadable_tile

BACKGROUND = (255, 255, 255)
PLACEHOLDER = (200, 200, 200)
TEXT = (40, 40, 40)
PAD = 4  # space around each thumbnail


def contact_sheet(content_images: Mapping[Hashable, str | Path], style_images: Mapping[Hashable, str | Path],
                  results: Mapping[tuple, str | Path | None], out_png: str | Path, cell: int = 160) -> None:
    """Write the sheet to ``out_png`` (atomically); rows and columns follow the mappings' order.

    ``results[(content_id, style_id)]`` is the final image of that pair. A cell reads "failed" when the
    value is None (the caller knows the run produced nothing), "missing" when the key is absent or the
    file does not exist, and "cannot read" with the file's name when it is not a readable image (an
    input header too).
    """
    if cell < 32:
        raise ValueError(f"cell: must be at least 32 px, got {cell}")
    label_height = max(10, cell // 10)
    font = ImageFont.load_default(size=label_height - 2)
    sheet = Image.new("RGB", ((len(style_images) + 1) * cell, (len(content_images) + 1) * cell), BACKGROUND)

    for column, (style_id, path) in enumerate(style_images.items(), start=1):
        _header(sheet, (column * cell, 0), path, str(style_id), cell, label_height, font)
    for row, (content_id, path) in enumerate(content_images.items(), start=1):
        _header(sheet, (0, row * cell), path, str(content_id), cell, label_height, font)
        for column, style_id in enumerate(style_images, start=1):
            key = (content_id, style_id)
            origin = (column * cell, row * cell)
            if key not in results:
                _placeholder(sheet, origin, cell, "missing", font)
            elif results[key] is None:
                _placeholder(sheet, origin, cell, "failed", font)
            else:
                thumb = _thumbnail(results[key], cell - 2 * PAD)
                if isinstance(thumb, str):
                    _placeholder(sheet, origin, cell, thumb, font)
                else:
                    _paste_centred(sheet, thumb, origin, cell, cell)
    save_image(sheet, out_png, format="PNG")


def _thumbnail(path: str | Path, side: int) -> Image.Image | str:
    """The image fitted into ``side`` x ``side`` (aspect kept; never decoded whole where the format
    allows), "missing", or a grey tile naming a file that cannot be read."""
    if not Path(path).exists():
        return "missing"
    try:
        return read_thumbnail(path, (side, side))
    except NSTError:
        return unreadable_tile(path, (side, side), PLACEHOLDER, TEXT)


def _paste_centred(sheet: Image.Image, thumb: Image.Image, origin: tuple[int, int], width: int, height: int):
    x, y = origin
    sheet.paste(thumb, (x + (width - thumb.width) // 2, y + (height - thumb.height) // 2))


def _placeholder(sheet: Image.Image, origin: tuple[int, int], cell: int, text: str, font) -> None:
    x, y = origin
    draw = ImageDraw.Draw(sheet)
    draw.rectangle([x + PAD, y + PAD, x + cell - PAD - 1, y + cell - PAD - 1], fill=PLACEHOLDER)
    draw.text((x + cell // 2, y + cell // 2), text, fill=TEXT, font=font, anchor="mm")


def _header(sheet: Image.Image, origin: tuple[int, int], path: str | Path, label: str, cell: int,
            label_height: int, font) -> None:
    x, y = origin
    image_height = cell - label_height
    thumb = _thumbnail(path, min(cell, image_height) - 2 * PAD)
    if isinstance(thumb, str):
        _placeholder(sheet, origin, cell, thumb, font)
    else:
        _paste_centred(sheet, thumb, origin, cell, image_height)
    draw = ImageDraw.Draw(sheet)
    draw.text((x + cell // 2, y + cell - label_height // 2 - 1), fit_text(draw, label, font, cell - 2 * PAD),
              fill=TEXT, font=font, anchor="mm")
