# URL patterns such as /users/<int:id>, /file_<id>.txt or /mid/<path:p>/edit,
# compiled once at registration into literal pieces and parameters, so that
# matching is a few string comparisons and no regex.
from .errors import HTTPException


def is_digits(text):
    """ASCII digits only: str.isdigit() and int() also take other scripts' digits."""
    for c in text:
        if not "0" <= c <= "9":
            return False
    return bool(text)


def _string(text):
    return text


def _int(text):
    if not is_digits(text[1:] if text[:1] == "-" else text):
        raise ValueError
    return int(text)


def _float(text):
    digits = text[1:] if text[:1] == "-" else text
    whole, dot, fraction = digits.partition(".")
    if (
        not (whole or fraction)
        or (whole and not is_digits(whole))
        or (fraction and not is_digits(fraction))
    ):
        raise ValueError
    return float(text)


# None marks <path:...>, the one parameter that may span "/".
CONVERTERS = {"string": _string, "str": _string, "int": _int, "float": _float, "path": None}


def compile_pattern(pattern):
    """The pattern as a list of literal strings and (name, converter) pairs."""
    if not pattern.startswith("/"):
        raise ValueError("a route pattern starts with '/': %r" % pattern)
    pieces = []
    rest = pattern
    while rest:
        opening = rest.find("<")
        if opening < 0:
            opening = len(rest)
        closing = rest.find(">", opening)
        if ">" in rest[:opening] or "<" in rest[opening + 1 : closing]:
            raise ValueError("unbalanced '<' or '>' in %r" % pattern)
        if opening == len(rest):
            pieces.append(rest)
            break
        if closing < 0:
            raise ValueError("unbalanced '<' or '>' in %r" % pattern)
        if opening:
            pieces.append(rest[:opening])
        elif pieces and not isinstance(pieces[-1], str):
            raise ValueError("two parameters need a literal between them in %r" % pattern)
        kind, _, name = rest[opening + 1 : closing].rpartition(":")
        kind = kind or "string"
        if kind not in CONVERTERS or not name:
            raise ValueError("unknown converter %r in %r" % (kind, pattern))
        pieces.append((name, CONVERTERS[kind]))
        rest = rest[closing + 1 :]
    return pieces


def _store(params, name, convert, text):
    if convert is not None:
        try:
            text = convert(text)
        except ValueError:
            return False
    params[name] = text
    return True


def _match(pieces, index, path, start, params):
    """Whether path[start:] matches pieces[index:]; fills params if it does."""
    count = len(pieces)
    while index < count:
        piece = pieces[index]
        index += 1
        if isinstance(piece, str):
            if not path.startswith(piece, start):
                return False
            start += len(piece)
            continue
        name, convert = piece
        end = len(path)
        if convert is not None:
            slash = path.find("/", start)
            if slash >= 0:
                end = slash  # only <path:...> takes a "/"
        if index == count:
            return end == len(path) > start and _store(params, name, convert, path[start:])
        # The longest value first, as a greedy regex group would take; a
        # shorter one when the rest does not match.
        literal = pieces[index]
        size = len(literal)
        end = path.rfind(literal, start + 1, end + size)
        while end > start:
            if _store(params, name, convert, path[start:end]) and _match(
                pieces, index + 1, path, end + size, params
            ):
                return True
            end = path.rfind(literal, start + 1, end - 1 + size)
        return False
    return start == len(path)


class Route:
    """One registered pattern with its handlers by method."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.pieces = compile_pattern(pattern)
        self.handlers = {}

    def is_literal(self):
        return len(self.pieces) == 1 and isinstance(self.pieces[0], str)

    def match(self, path):
        """The converted parameters when path matches; else None."""
        pieces = self.pieces
        if not path.startswith(pieces[0]):
            return None
        params = {}
        return params if _match(pieces, 0, path, 0, params) else None


class Router:
    def __init__(self):
        self._fixed = {}  # pattern -> Route, found by one dict lookup
        self._dynamic = []  # Routes with parameters, tried in order
        self._fallback = []  # static files: tried only for paths no route claims
        self._tiers = (self._dynamic, self._fallback)

    def add(self, pattern, methods, handler):
        route = self._fixed.get(pattern) or _find(self._dynamic, pattern)
        if route is None:
            route = Route(pattern)
            if route.is_literal():
                self._fixed[pattern] = route
            else:
                self._dynamic.append(route)
        for method in methods:
            route.handlers[method.upper()] = handler

    def add_fallback(self, pattern, handler):
        """Serve GET (and HEAD) at pattern for paths that no route matches."""
        route = _find(self._fallback, pattern)
        if route is None:
            route = Route(pattern)
            self._fallback.append(route)
        route.handlers["GET"] = handler

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


def _find(routes, pattern):
    for route in routes:
        if route.pattern == pattern:
            return route
    return None


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
