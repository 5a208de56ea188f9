"""Every test leaves the process environment as it found it: `workbench serve` hands its runs root and
Panel's basic-auth secrets to the server through os.environ, and a test that calls it in-process
must not pass them on to later tests' servers and subprocesses."""

import os

import pytest


@pytest.fixture(autouse=True)
def _restore_environ():
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)
