"""The `splitsim` command line: parse, call the library, report."""
