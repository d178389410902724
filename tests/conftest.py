"""Shared fixtures: tiny learner configs and small files written by the tests."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
