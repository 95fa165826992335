"""A bare click hello-world: the floor for ``appcase --help`` (item 7)."""

import click


@click.command()
@click.option("--name", default="world", help="Who to greet.")
def hello(name: str) -> None:
    """Say hello."""
    click.echo(f"hello {name}")


if __name__ == "__main__":
    hello()
