"""Exec a command with SIGINT and SIGTERM restored to their defaults.

A background process inherits SIGINT as ignored; `dagster dev` and MindsDB then ignore Ctrl-C and
`kill -INT`. Usage: python -m profiteer_pipeline.stack.exec_default_signals CMD [ARGS...]
"""

import os
import signal
import sys

if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.execvp(sys.argv[1], sys.argv[1:])
