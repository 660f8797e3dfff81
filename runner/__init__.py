"""dbbench: a database-backed web-framework benchmark runner."""

__version__ = "0.1.0"
