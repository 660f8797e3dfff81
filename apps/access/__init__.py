"""Data-access strategies, one module per variant, shared by every Python framework.

Each module defines `Store(BaseStore)`; apps/cells.toml declares which stack
(virtual environment) it runs in.
"""
