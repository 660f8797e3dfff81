"""The subcommands, one module each, in the order `dbbench --help` lists them.

A module declares HELP, add_arguments(parser) and run(args) (a module whose subcommand has
subcommands of its own, such as db, sets each one's func itself). Adding a subcommand is one
module here and one line below.
"""

COMMANDS = {
    "db": "db", "list": "listing", "serve": "serve", "verify": "verify", "run": "run", "calibrate": "calibrate",
    "soak": "soak", "sweep": "sweep", "tune": "tune", "latency": "latency", "lesson": "lesson", "faults": "faults",
    "parity": "parity", "cost": "cost", "report": "report", "prices": "prices", "compare": "compare",
    "cluster": "cluster", "env": "env", "docs": "docs",
}
