"""Templates compiled once to a Python generator and streamed.

    {{ expr }}                    the value, HTML-escaped (None gives nothing)
    {{ expr | safe }}             the value as it is
    {% if expr %} {% elif expr %} {% else %} {% endif %}
    {% for name in expr %} {% endfor %}
    {% include "other.html" %}    with the same values (and loop variables)
    {# a comment #}

Expressions are Python; names come from the values given to render, and
len, range, str, int, float, round, min, max, abs, sorted, enumerate, zip,
list, dict, bool, sum, any, all, reversed and repr are the builtins. A block
tag alone on its line leaves no blank line behind.

    from httpserver.templates import render_template

    @app.get("/")
    def index(request):
        return render_template("index.html", title="Board", rows=rows)

The page is sent as it is produced (StreamingResponse), so it may be larger
than the free heap. tools/deploy.py compiles templates/*.html to modules
(tpl_<name>.mpy), which load() prefers: the board never compiles them.
Errors name the template and line (TemplateError).
"""

_CHUNK = 512  # characters gathered before a piece of the page is sent
_cache = {}


class TemplateError(Exception):
    """A template that cannot compile or render; the message names template and line."""


class _Safe(str):
    pass


def safe(text):
    """Mark text as HTML that {{ }} must not escape."""
    return _Safe(text)


def escape(value):
    """value as HTML text: None is empty, & < > " ' are escaped."""
    if value is None:
        return ""
    if isinstance(value, _Safe):
        return value
    text = str(value)
    for char, entity in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&#34;"),
        ("'", "&#39;"),
    ):
        if char in text:
            text = text.replace(char, entity)
    return text


def _text(value):
    return "" if value is None else str(value)


def compile_source(source, name="<template>"):
    """The Python module source of a template: it defines render(...) and NAME."""
    from .template_compiler import compile_source

    return compile_source(source, name)


def module_name(name):
    """The module deploy.py compiles template name to: tpl_ and the name's letters."""
    return "tpl_" + "".join(c if c.isalpha() or c.isdigit() else "_" for c in name)


class _Where:
    """The template line being run, for the error message."""

    line = 0

    def __call__(self, line):
        self.line = line


class Template:
    """A compiled template: generate(**values) yields the page in pieces."""

    def __init__(self, source=None, name="<template>", directory=None, function=None):
        self.name = name
        self.directory = directory
        if function is None:
            # The compiler loads only here: a board with precompiled templates never needs it.
            from .template_compiler import compile_function

            function = compile_function(source, name)
        self._render = function

    def _include(self, included, values, loop_values):
        if loop_values:
            values = dict(values)
            values.update(loop_values)
        return load(included, self.directory or "templates")._pieces(values)

    def _pieces(self, values):
        at = _Where()
        try:
            yield from self._render(values, escape, _text, self._include, at)
        except (MemoryError, TemplateError):
            raise
        except Exception as exc:
            raise TemplateError(
                "%s, line %d: %s: %s" % (self.name, at.line, type(exc).__name__, exc)
            )

    def generate(self, **values):
        """The rendered page in pieces of about 512 characters (a generator)."""
        gathered = []
        size = 0
        for piece in self._pieces(values):
            gathered.append(piece)
            size += len(piece)
            if size >= _CHUNK:
                yield "".join(gathered)
                gathered = []
                size = 0
        if gathered:
            yield "".join(gathered)

    def render(self, **values):
        """The whole page as one string (it must fit in the heap)."""
        return "".join(self.generate(**values))


def load(name, directory="templates"):
    """The template name from directory, compiled once (a precompiled module first)."""
    key = directory + "/" + name
    template = _cache.get(key)
    if template is None:
        try:
            module = __import__(module_name(name))
            template = Template(name=name, directory=directory, function=module.render)
        except ImportError:
            try:
                with open(key) as file:
                    source = file.read()
            except OSError:
                raise TemplateError("template %s not found in %s" % (name, directory))
            template = Template(source, name, directory)
        _cache[key] = template
    return template


def render_template(name, status_code=200, headers=None, directory="templates", **values):
    """A StreamingResponse of template name rendered with values (text/html)."""
    from .streaming import StreamingResponse

    return StreamingResponse(
        load(name, directory).generate(**values),
        status_code,
        headers,
        "text/html; charset=utf-8",
    )
