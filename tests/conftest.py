"""Fixtures shared by every test folder; the helpers themselves live in tests/support/.

Test folders have no ``__init__.py`` (pytest's default "prepend" import mode puts each
test file's folder on sys.path, so test module names are unique across folders). This
file puts tests/ itself on sys.path, so every test module can ``import support.<module>``
whichever folder it is in and however pytest was started.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from support.workflow import TEST_CONFIG  # noqa: E402  (after the sys.path line)


@pytest.fixture
def workflow_dir(tmp_path: Path) -> Path:
    """A working directory as on a fresh clone, with the tiny test config (.test/config.yaml) as
    config.yaml and image folders holding only README.md. Tests about the repository's real
    settings copy its config.yaml over it (support.workflow.use_repo_config)."""
    shutil.copy(TEST_CONFIG, tmp_path / "config.yaml")
    for folder in ("content_files", "style_files"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "README.md").write_text(f"Put your {folder.split('_')[0]} images here.\n")
    return tmp_path
