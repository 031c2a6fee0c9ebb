"""The command line of main.py: its options checked, and the errors a person
can fix told in one line with the usage instead of a traceback. Loaded only
when there is something to check or to say (see status.main).
"""

import sys

USAGE = "usage: main.py [--port 8000] [--host 127.0.0.1] [--interval 2] [--config FILE]"


def _stop(message):
    # One line that says what is wrong, then the usage: no traceback.
    print("main.py: error: " + message, file=sys.stderr)
    print(USAGE, file=sys.stderr)
    raise SystemExit(2)


def check(argv):
    """Stop with one line and the usage at a mistake on the command line."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg in ("-h", "--help") or not arg.startswith("-"):
            continue  # the usage is status's; a bare word is a launcher's
        name, _, value = arg.lstrip("-").partition("=")
        if not arg.startswith("--"):
            _stop("unknown option " + arg)
        if not _:
            value = argv[i] if i < len(argv) else None
            i += 1
        if name not in ("port", "host", "interval", "config"):
            _stop("unknown option --" + name)
        if value is None:
            _stop("--%s needs a value" % name)
        try:
            number = float(value) if name == "interval" else int(value)
        except ValueError:
            number = -1
        if name == "port" and not 0 <= number <= 65535 or name == "interval" and number <= 0:
            _stop("--%s %s: not a valid %s" % (name, value, name))


def explain(error):
    """A busy port, or one we may not use, told in one line; else raised."""
    import errno

    if error.errno == errno.EADDRINUSE:
        _stop("the port is in use (another server running?): choose one with --port")
    if error.errno == errno.EACCES:
        _stop("no permission to serve on that port (below 1024?): choose one with --port")
    raise error
