"""HTTP glue, one module per framework: routing, validation, serialization, its server.

Each module defines `serve(host, port, workers)`, which runs the framework's production
server in the foreground with the Store of the configured variant.
"""
