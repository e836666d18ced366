"""Loading the code location stays light: no data library is imported until an asset runs.

Every Dagster process (webserver, daemon, each run, each `dagster` command) imports
`profiteer_pipeline.definitions`; pandas, numpy, pyarrow, plotly, PyAirbyte, the MindsDB SDK
and matplotlib belong inside the functions that use them (or behind `TYPE_CHECKING` where they
only annotate). The import runs in a fresh interpreter, so what earlier tests imported does not
count; an offender is reported with the chain of our modules that imported it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DENIED = ("pandas", "numpy", "pyarrow", "plotly", "airbyte", "mindsdb_sdk", "matplotlib")

# Runs in the child: records, for the first import of each denied package, which of our modules
# were being imported at that moment (innermost last), then imports the code location.
PROBE = """
import json, sys, traceback

DENIED = set(json.loads(sys.argv[1]))
chains = {}


class Watch:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in DENIED and top not in chains:
            chains[top] = [
                f"{frame.filename.rpartition('profiteer_pipeline')[2].lstrip('/')}:{frame.lineno}"
                for frame in traceback.extract_stack()
                if "profiteer_pipeline" in frame.filename
            ]
        return None


sys.meta_path.insert(0, Watch())
import profiteer_pipeline.definitions  # noqa: E402,F401

loaded = sorted(top for top in DENIED if top in sys.modules)
print(json.dumps({"loaded": loaded, "chains": {top: chains.get(top, []) for top in loaded}}))
"""


def test_loading_the_code_location_imports_no_data_library():
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(DENIED)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    report = "\n".join(
        f"  {top}: imported via {' <- '.join(reversed(found['chains'][top])) or '(not our module)'}"
        for top in found["loaded"]
    )
    assert not found["loaded"], f"loading profiteer_pipeline.definitions imported:\n{report}"
