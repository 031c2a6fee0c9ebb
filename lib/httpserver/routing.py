# URL patterns such as /users/<int:id>/files/<path:rest>, compiled once at
# registration into a list of segments so matching needs no regex.
from .errors import HTTPException


def is_digits(text):
    """ASCII digits only: str.isdigit() and int() also take other scripts' digits."""
    # strip() works in C: no character is made into an object (or, on
    # MicroPython, interned) as a loop over the text would.
    return bool(text) and not text.strip("0123456789")


def _string(segment):
    return segment


def _int(segment):
    if not is_digits(segment):
        raise ValueError
    return int(segment)


def _float(segment):
    digits = segment[1:] if segment[:1] == "-" else segment
    whole, dot, fraction = digits.partition(".")
    if (
        not (whole or fraction)
        or (whole and not is_digits(whole))
        or (fraction and not is_digits(fraction))
    ):
        raise ValueError
    return float(segment)


CONVERTERS = {"string": _string, "str": _string, "int": _int, "float": _float, "path": None}


class Route:
    """One registered pattern with its handlers by method."""

    def __init__(self, pattern):
        if not pattern.startswith("/"):
            raise ValueError("a route pattern starts with '/': %r" % pattern)
        self.pattern = pattern
        self.handlers = {}
        self.segments = None  # None for a pattern without parameters
        self.tail = None  # name of a trailing <path:...> parameter
        if "<" not in pattern:
            return
        segments = []
        parts = pattern[1:].split("/")
        for index, part in enumerate(parts):
            if not part.startswith("<"):
                if "<" in part or ">" in part:
                    raise ValueError("a parameter must fill a whole segment: %r" % pattern)
                segments.append(part)
                continue
            if not part.endswith(">"):
                raise ValueError("unclosed parameter in %r" % pattern)
            kind, _, name = part[1:-1].rpartition(":")
            kind = kind or "string"
            if kind not in CONVERTERS or not name:
                raise ValueError("unknown converter %r in %r" % (kind, pattern))
            if kind == "path":
                if index != len(parts) - 1:
                    raise ValueError("<path:...> must be last in %r" % pattern)
                self.tail = name
            else:
                segments.append((name, CONVERTERS[kind]))
        self.segments = segments

    def match(self, parts):
        """Converted parameters when the path, split at "/", matches; else None."""
        segments = self.segments
        count = len(segments)
        if self.tail is None:
            if len(parts) != count:
                return None
        elif len(parts) <= count:
            return None
        params = {}
        for index in range(count):
            segment = segments[index]
            part = parts[index]
            if isinstance(segment, str):
                if segment != part:
                    return None
            elif not part:
                return None
            else:
                try:
                    params[segment[0]] = segment[1](part)
                except ValueError:
                    return None
        if self.tail is not None:
            rest = "/".join(parts[count:])
            if not rest:
                return None
            params[self.tail] = rest
        return params


class Router:
    def __init__(self):
        self._fixed = {}  # pattern -> Route, found by one dict lookup
        self._dynamic = []  # Routes with parameters, tried in order

    def add(self, pattern, methods, handler):
        route = self._fixed.get(pattern)
        if route is None:
            for candidate in self._dynamic:
                if candidate.pattern == pattern:
                    route = candidate
                    break
        if route is None:
            route = Route(pattern)
            if route.segments is None:
                self._fixed[pattern] = route
            else:
                self._dynamic.append(route)
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
        parts = None
        for route in self._dynamic:
            if parts is None:
                parts = path[1:].split("/")
            params = route.match(parts)
            if params is None:
                continue
            handler = _pick(route.handlers, method)
            if handler is not None:
                return handler, params
            if allowed is None:
                allowed = route.handlers
        if allowed is None:
            raise HTTPException(404)
        return None, allowed_methods(allowed)


def _pick(handlers, method):
    handler = handlers.get(method)
    if handler is None and method == "HEAD":
        handler = handlers.get("GET")
    return handler


def allowed_methods(handlers):
    methods = list(handlers)
    if "GET" in handlers and "HEAD" not in handlers:
        methods.append("HEAD")
    if "OPTIONS" not in handlers:
        methods.append("OPTIONS")
    return ", ".join(methods)
