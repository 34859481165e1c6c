"""Serve the application in this process (one process, threads) for crash tests.

``python -m tests.serve_app PORT_FILE`` from the repository root: settings come from the LIMS_*
environment, as in production; the port it listens on is written to PORT_FILE once it accepts
connections.
"""

from __future__ import annotations

import sys
from pathlib import Path

from werkzeug.serving import make_server

from lims import create_app


def main() -> None:
    """Serve until killed."""
    server = make_server("127.0.0.1", 0, create_app(), threaded=True)
    port_file = Path(sys.argv[1])
    port_file.with_suffix(".partial").write_text(str(server.server_port))
    port_file.with_suffix(".partial").rename(port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
