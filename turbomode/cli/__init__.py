"""The command line. The only package that imports typer; each module parses, calls a task, renders."""
