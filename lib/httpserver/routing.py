# URL patterns such as /users/<int:id>, /file_<id>.txt or /mid/<path:p>/edit,
# compiled once at registration into literal pieces and parameters, so that
# matching is a few string comparisons and no regex.
from .response import HTTPException


def is_digits(text):
    """ASCII digits only: str.isdigit() and int() also take other scripts' digits."""
    # strip() works in C: no character is made into an object (or, on
    # MicroPython, interned) as a loop over the text would.
    return bool(text) and not text.strip("0123456789")


# A converter returns the value, or None when the text is not one.
def _string(text):
    return text


def _int(text):
    if is_digits(text[1:] if text[:1] == "-" else text):
        return int(text)


def _float(text):
    whole, dot, fraction = (text[1:] if text[:1] == "-" else text).partition(".")
    if (
        (whole or fraction)
        and (not whole or is_digits(whole))
        and (not fraction or is_digits(fraction))
    ):
        return float(text)


# None marks <path:...>, the one parameter that may span "/".
CONVERTERS = {"string": _string, "str": _string, "int": _int, "float": _float, "path": None}


def _match(pieces, index, path, start, params):
    """Whether path[start:] matches pieces[index:]; fills params if it does."""
    if index == len(pieces):
        return start == len(path)
    piece = pieces[index]
    index += 1
    if isinstance(piece, str):
        return path.startswith(piece, start) and _match(
            pieces, index, path, start + len(piece), params
        )
    name, convert = piece
    limit = len(path)
    if convert is not None and path.find("/", start) >= 0:
        limit = path.find("/", start)  # only <path:...> takes a "/"
    # The longest value first, as a greedy regex group takes; shorter ones
    # when the rest does not match.
    literal = pieces[index] if index < len(pieces) else ""
    end = path.rfind(literal, start + 1, limit + len(literal))
    while end > start:
        # The rest first: a value is only cut out for an end that fits.
        if _match(pieces, index, path, end, params):
            value = path[start:end]
            if convert is not None:
                value = convert(value)
            if value is not None:
                params[name] = value
                return True
        if not literal:
            return False
        end = path.rfind(literal, start + 1, end - 1 + len(literal))
    return False


def _compile(pattern):
    """The pattern's literal strings and (name, converter) parameters, in order."""
    if not pattern.startswith("/"):
        raise ValueError("bad route pattern %r" % pattern)
    pieces = []
    rest = pattern
    while rest:
        opening = rest.find("<")
        literal = rest if opening < 0 else rest[:opening]
        if ">" in literal:
            raise ValueError("bad route pattern %r" % pattern)
        if literal:
            pieces.append(literal)
        if opening < 0:
            return pieces
        rest = rest[opening + 1 :]
        closing = rest.find(">")
        kind, _, name = rest[:closing].rpartition(":")
        kind = kind or "string"
        if (
            closing < 0
            or "<" in rest[:closing]
            or kind not in CONVERTERS
            or not name
            or not isinstance(pieces[-1], str)
        ):
            raise ValueError("bad route pattern %r" % pattern)
        pieces.append((name, CONVERTERS[kind]))
        rest = rest[closing + 1 :]
    return pieces


class Route:
    """One registered pattern with its handlers by method."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.handlers = {}

    def match(self, path):
        """The converted parameters when path matches; else None."""
        if not path.startswith(self.pieces[0]):
            return None
        params = {}
        return params if _match(self.pieces, 0, path, 0, params) else None


class Router:
    def __init__(self):
        self._fixed = {}  # pattern -> Route, found by one dict lookup
        self._dynamic = []  # Routes with parameters, tried in order
        self._fallback = []  # static files: only for paths that no route claims
        self._tiers = (self._dynamic, self._fallback)

    def add(self, pattern, methods, handler, fallback=False):
        routes = self._fallback if fallback else self._dynamic
        route = None if fallback else self._fixed.get(pattern)
        for candidate in routes:
            if candidate.pattern == pattern:
                route = candidate
        if route is None:
            route = Route(pattern)
            pieces = _compile(pattern)  # checks a literal pattern too
            if fallback or "<" in pattern:
                route.pieces = pieces  # for match(); a literal is found by the dict
                routes.append(route)
            else:
                self._fixed[pattern] = route
        for method in methods:
            route.handlers[method.upper()] = handler

    def resolve(self, method, path):
        """(handler, params) for the request; HTTPException 404/405 when none."""
        allowed = None
        route = self._fixed.get(path)
        if route is not None:
            handler = _pick(route.handlers, method)
            if handler is not None:
                return handler, {}
            allowed = route.handlers
        for routes in self._tiers:
            for route in routes:
                params = route.match(path)
                if params is None:
                    continue
                handler = _pick(route.handlers, method)
                if handler is not None:
                    return handler, params
                if allowed is None:
                    allowed = route.handlers
            if allowed is not None:
                break  # a route claims the path: its methods decide (405)
        if allowed is None:
            raise HTTPException(404)
        return None, allowed_methods(allowed)


def _pick(handlers, method):
    handler = handlers.get(method)
    if handler is None:
        if method == "HEAD":
            handler = handlers.get("GET")
        if handler is None:
            handler = handlers.get("*")
    return handler


def allowed_methods(handlers):
    methods = list(handlers)
    if "GET" in handlers and "HEAD" not in handlers:
        methods.append("HEAD")
    if "OPTIONS" not in handlers:
        methods.append("OPTIONS")
    return ", ".join(methods)
