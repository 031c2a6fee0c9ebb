"""The status server: the board's live status page (see status.py).

On a board, runs after boot.py: serves http://<board IP>/ from config.json.
On CPython, from a clone with the package installed (pip install -e .):

    python device/main.py [--port 8000] [--host 127.0.0.1]

serves a simulated board at http://127.0.0.1:8000/. To add your own values
and routes, see the docstring of status.py.
"""

import status

# The work is in status.py, compiled: this file is compiled on the board at
# every boot, and its compiler's memory fragments the heap the server needs.
status.main()
