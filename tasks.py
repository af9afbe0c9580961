"""Developer chores (invoke): `inv setup`, `inv images`, `inv lint`, `inv test`, `inv demo`,
`inv bench`. Each calls the same commands the README and CI use."""

from invoke import Context, task

VENV = ".venv/bin"


@task
def setup(c: Context) -> None:
    """Install debootstrap (if missing) and the project into .venv."""
    c.run("bash .ci/setup.sh", pty=True)


@task
def images(c: Context) -> None:
    """Build missing node images and list them."""
    c.run(f"{VENV}/hnblab images", pty=True)


@task
def lint(c: Context) -> None:
    c.run(f"{VENV}/ruff check lab tests scenarios tasks.py", pty=True)


@task(help={"unit": "only the unit tests (no Docker)", "k": "pytest -k expression"})
def test(c: Context, unit: bool = False, k: str = "") -> None:
    """The whole suite (what CI runs), or --unit for the fast part."""
    args = " tests/unit" if unit else ""
    if k:
        args += f" -k '{k}'"
    c.run(f"{VENV}/python -m pytest -ra{args}", pty=True)


@task
def demo(c: Context) -> None:
    """The README's main job: intranet lab, discovery + registration, evidence, teardown."""
    c.run(f"{VENV}/hnblab demo", pty=True)


@task(help={"name": "updown | cwmp | ike | scenarios | pm (default: all)"})
def bench(c: Context, name: str = "") -> None:
    """Benchmark scripts; each prints its figures (see docs/benchmarks.md)."""
    c.run(f"{VENV}/hnblab bench {name}".rstrip(), pty=True)
