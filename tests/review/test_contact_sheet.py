"""The contact sheet (nst/review/contact_sheet.py): layout, failed and missing cells."""
import numpy as np
import pytest
from PIL import Image

from support.images import png_claiming

from nst.image_files import unreadable_tile
from nst.review import contact_sheet as sheets


def _solid(path, colour, size=(48, 40)):
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def sheet_inputs(tmp_path):
    contents = {c: _solid(tmp_path / f"{c}.png", colour) for c, colour in
                [("cat", (200, 120, 40)), ("cup", (90, 60, 30)), ("rocket", (20, 30, 80))]}
    styles = {s: _solid(tmp_path / f"{s}.png", colour)
              for s, colour in [("waves", (0, 200, 0)), ("glass", (0, 0, 250))]}
    results = {(c, s): _solid(tmp_path / f"{c}_{s}.png", (250, 0, 0), size=(80, 40)) for c in contents for s in styles}
    return contents, styles, results


def _cell(sheet, row, column, cell):
    return sheet[row * cell:(row + 1) * cell, column * cell:(column + 1) * cell]


def test_contact_sheet_layout(sheet_inputs, tmp_path):
    contents, styles, results = sheet_inputs
    cell = 64
    out = tmp_path / "grid.png"
    sheets.contact_sheet(contents, styles, results, out, cell=cell)
    sheet = np.asarray(Image.open(out).convert("RGB"))
    assert sheet.shape == ((len(contents) + 1) * cell, (len(styles) + 1) * cell, 3)
    assert (_cell(sheet, 0, 0, cell) == 255).all()  # blank corner
    # headers: the style's colour along the top, the content's down the left
    assert (_cell(sheet, 0, 2, cell) == (0, 0, 250)).all(axis=2).sum() > cell * cell / 3
    assert (_cell(sheet, 3, 0, cell) == (20, 30, 80)).all(axis=2).sum() > cell * cell / 3
    # a 2:1 result is fitted with its aspect kept and centred
    red = np.argwhere((_cell(sheet, 2, 1, cell) == (250, 0, 0)).all(axis=2))
    (top, left), (bottom, right) = red.min(axis=0), red.max(axis=0)
    width, height = right - left + 1, bottom - top + 1
    assert width == cell - 2 * sheets.PAD and abs(height - width / 2) <= 1
    assert abs((top + bottom) / 2 - (cell - 1) / 2) <= 1 and abs((left + right) / 2 - (cell - 1) / 2) <= 1


def test_failed_and_missing_results_get_grey_cells(sheet_inputs, tmp_path):
    contents, styles, results = sheet_inputs
    cell = 64
    (tmp_path / "corrupt.png").write_bytes(b"not an image")
    results.update({("cat", "waves"): None, ("cup", "waves"): tmp_path / "corrupt.png",
                    ("rocket", "waves"): tmp_path / "gone.png"})
    del results[("rocket", "glass")]
    sheets.contact_sheet(contents, styles, results, tmp_path / "grid.png", cell=cell)
    sheet = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB"))
    failed_none, failed_corrupt = _cell(sheet, 1, 1, cell), _cell(sheet, 2, 1, cell)
    missing_file, missing_key = _cell(sheet, 3, 1, cell), _cell(sheet, 3, 2, cell)
    for grey in (failed_none, failed_corrupt, missing_file, missing_key):
        assert (grey[sheets.PAD:sheets.PAD + 5, sheets.PAD:sheets.PAD + 5] == sheets.PLACEHOLDER).all()
        assert not (grey == (250, 0, 0)).all(axis=2).any()
        assert (grey != sheets.PLACEHOLDER).any(axis=2).sum() > 20  # there is a word on it
    assert (missing_file == missing_key).all()
    assert not (failed_none == missing_file).all()  # "failed" and "missing" read differently
    # an unreadable file is named on its tile
    side = cell - 2 * sheets.PAD
    named = np.asarray(unreadable_tile(tmp_path / "corrupt.png", (side, side), sheets.PLACEHOLDER, sheets.TEXT))
    assert (failed_corrupt[sheets.PAD:-sheets.PAD, sheets.PAD:-sheets.PAD] == named).all()
    assert (_cell(sheet, 1, 2, cell) == (250, 0, 0)).all(axis=2).any()  # other pairs unaffected


def test_contact_sheet_refuses_tiny_cells(sheet_inputs, tmp_path):
    with pytest.raises(ValueError, match="cell"):
        sheets.contact_sheet(*sheet_inputs, tmp_path / "grid.png", cell=8)
    assert not (tmp_path / "grid.png").exists()


def test_an_input_beyond_the_pixel_limit_is_a_tile_naming_it(sheet_inputs, tmp_path):
    contents, styles, results = sheet_inputs
    contents["scan"] = png_claiming(tmp_path / "scan.png", 30_000, 30_000)  # 900 MP: beyond MAX_PIXELS
    cell = 96
    sheets.contact_sheet(contents, styles, results, tmp_path / "grid.png", cell=cell)
    sheet = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB"))
    header = _cell(sheet, 4, 0, cell)
    side = min(cell, cell - max(10, cell // 10)) - 2 * sheets.PAD
    named = np.asarray(unreadable_tile(contents["scan"], (side, side), sheets.PLACEHOLDER, sheets.TEXT))
    top = (cell - max(10, cell // 10) - side) // 2
    assert (header[top:top + side, (cell - side) // 2:(cell - side) // 2 + side] == named).all()

