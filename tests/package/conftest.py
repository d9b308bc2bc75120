"""The package test shares the client tests' helpers (tests/client)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "client"))
