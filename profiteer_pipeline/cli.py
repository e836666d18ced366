"""The `profiteer` command: the local stack (up, down, status, env) and the generator (generate)."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Profiteer: pricing intelligence from simulated shop sales."""


def _register() -> None:
    # Each command group lives beside what it drives; importing here keeps `profiteer -h` fast.
    from profiteer_pipeline.stack.commands import register as register_stack
    from profiteer_pipeline.synth.commands import register as register_synth

    register_stack(main)
    register_synth(main)


try:
    _register()
except ImportError as exc:  # a half-built tree should still show the commands that exist
    if "profiteer_pipeline" not in str(exc):
        raise
