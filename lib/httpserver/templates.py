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

# The page's response class loads with the templates, at start-up: loaded by
# the first page instead, on a heap the app has already cut up, it found no
# room on a 64K board (unix port), where the page streams when it is here.
from .streaming import StreamingResponse

# Characters gathered before a piece of the page is sent: with 512, a 309 KB
# page no longer streams on a 62K heap (unix port); with 256 it does on 60K.
_CHUNK = 256
_cache = {}  # "directory/name" -> render function


class TemplateError(Exception):
    """A template that cannot compile or render; the message names template and line."""


def escape(value):
    """value as HTML text: None is empty, & < > " ' are escaped."""
    if value is None:
        return ""
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


def load(name, directory="templates"):
    """The render function of template name, compiled once (a precompiled module first)."""
    key = directory + "/" + name
    function = _cache.get(key)
    if function is None:
        try:
            # tools/deploy.py names the module as template_compiler.module_name does.
            module = "".join(c if c.isalpha() or c.isdigit() else "_" for c in name)
            function = __import__("tpl_" + module).render
        except ImportError:
            try:
                with open(key) as file:
                    source = file.read()
            except OSError:
                raise TemplateError("template %s not found in %s" % (name, directory))
            # The compiler loads only here: a board with precompiled templates never needs it.
            from .template_compiler import compile_function

            function = compile_function(source, name)
        _cache[key] = function
    return function


def _pieces(function, name, directory, values):
    at = [0]
    try:
        yield from function(values, directory, escape, _text, _include, at)
    except (MemoryError, TemplateError):
        raise
    except Exception as exc:
        raise TemplateError("%s, line %d: %s: %s" % (name, at[0], type(exc).__name__, exc))


def _include(name, directory, values, loop_values):
    if loop_values:
        values = dict(values)
        values.update(loop_values)
    return _pieces(load(name, directory), name, directory, values)


def _gathered(pieces):
    # A few hundred characters at a time: fewer, larger writes than one per piece.
    gathered = []
    size = 0
    for piece in pieces:
        gathered.append(piece)
        size += len(piece)
        if size >= _CHUNK:
            yield "".join(gathered)
            gathered = []
            size = 0
    if gathered:
        yield "".join(gathered)


def generate(name, directory="templates", **values):
    """Template name rendered with values, in pieces of about 256 characters."""
    return _gathered(_pieces(load(name, directory), name, directory, values))


def render(name, directory="templates", **values):
    """Template name rendered as one string (it must fit in the heap)."""
    return "".join(generate(name, directory, **values))


def render_template(name, status_code=200, headers=None, directory="templates", **values):
    """A StreamingResponse of template name rendered with values (text/html)."""
    return StreamingResponse(
        generate(name, directory, **values), status_code, headers, "text/html; charset=utf-8"
    )
