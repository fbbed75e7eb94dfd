"""Fixtures of the engine tests."""
import pytest

from support.engine import write_engine_inputs


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """``(content, style)``: scene.png (64x48) and tiles.jpg (64x64), shared read-only by every engine test."""
    return write_engine_inputs(tmp_path_factory.mktemp("inputs"))
