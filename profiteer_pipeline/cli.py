"""The `profiteer` command: the local stack (up, down, status, env), the generator (generate) and
order-export imports (import)."""

from __future__ import annotations

import click

from profiteer_pipeline.sources.files.commands import register as register_imports
from profiteer_pipeline.stack.commands import register as register_stack
from profiteer_pipeline.synth.commands import register as register_synth


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Profiteer: pricing intelligence from simulated shop sales."""


# Each command group lives beside what it drives.
register_stack(main)
register_synth(main)
register_imports(main)
