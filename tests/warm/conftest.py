"""Fixtures of the warm-start tests: the engine's tiny inputs and a server folder per module."""
import shutil

import pytest

from support.engine import write_engine_inputs
from support.warm import short_folder, stop_servers


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    return write_engine_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def shared_folder():
    """One server folder for a module's tests (one server start for all of them); stopped after."""
    folder = short_folder()
    yield folder
    stop_servers(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def own_folder():
    """A folder of the test's own, for tests about the server's start and end."""
    folder = short_folder()
    yield folder
    stop_servers(folder)
    shutil.rmtree(folder, ignore_errors=True)
