"""The floor for start-up (SPEC §11): a one-command Typer app, the least any Typer CLI costs to start.

`benchmarks/startup.py` runs it beside `turbomode status` and `turbomode catchup` and reports their CPU
time as a ratio of this one's. It takes one string option, as nearly every real command does: Typer
coerces option values through pydantic, so that import is part of the floor.

    python benchmarks/floor_app.py --name you
"""

import typer

app = typer.Typer(add_completion=False)


@app.command()
def hello(name: str = typer.Option("world", "--name", help="Who to greet.")) -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


if __name__ == "__main__":
    app()
