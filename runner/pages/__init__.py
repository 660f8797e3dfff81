"""The pages dbbench generates beyond the lessons: the findings (README.md's and
docs/findings.md) from the committed runs, and the CLI reference (docs/cli.md) from the argument
parser. Each is written by `dbbench docs` and checked by `dbbench docs --check`, so no page
states a figure or an option its source no longer has."""
