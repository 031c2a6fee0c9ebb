"""The template compiler: template text to the Python source of a generator.

Loaded only to compile a template from its text: on a board, tools/deploy.py
has compiled them already.
"""

from .templates import TemplateError, _gathered, _pieces

_BUILTINS = (
    "len range str int float round min max abs sorted enumerate zip list dict bool sum any all "
    "reversed repr None True False and or not in is if else for lambda"
).split()


def _names(expression):
    """The names an expression reads from the values (not attributes, strings, builtins)."""
    names = []
    i = 0
    n = len(expression)
    while i < n:
        char = expression[i]
        if char in "'\"":
            end = expression.find(char, i + 1)
            while end > 0 and expression[end - 1] == "\\":
                end = expression.find(char, end + 1)
            i = n if end < 0 else end + 1
        elif char.isalpha() or char == "_":
            start = i
            while i < n and (
                expression[i].isalpha() or expression[i].isdigit() or expression[i] == "_"
            ):
                i += 1
            name = expression[start:i]
            before = expression[:start].rstrip()
            if not before.endswith(".") and name not in _BUILTINS and name not in names:
                names.append(name)
        elif char.isdigit():
            while i < n and (
                expression[i].isalpha() or expression[i].isdigit() or expression[i] in "._"
            ):
                i += 1
        else:
            i += 1
    return names


def _tokens(source, name):
    """(kind, text, line) for each piece: "text", "{{", "{%"; comments dropped."""
    position = 0
    line = 1
    while position < len(source):
        start = source.find("{", position)
        while start >= 0 and source[start + 1 : start + 2] not in ("{", "%", "#"):
            start = source.find("{", start + 1)
        if start < 0:
            start = len(source)
        if start > position:
            text = source[position:start]
            yield "text", text, line
            line += text.count("\n")
        if start == len(source):
            return
        opener = source[start : start + 2]
        closer = {"{{": "}}", "{%": "%}", "{#": "#}"}[opener]
        end = source.find(closer, start + 2)
        if end < 0:
            raise TemplateError("%s, line %d: %s is never closed" % (name, line, opener))
        inner = source[start + 2 : end]
        position = end + 2
        if opener == "{%" and source[position : position + 1] == "\n":
            # A block tag alone on its line leaves no blank line behind.
            line_start = source.rfind("\n", 0, start) + 1
            if not source[line_start:start].strip():
                yield "strip", source[line_start:start], line
                position += 1
        if opener != "{#":
            yield opener, inner.strip(), line
        line += source.count("\n", start, position)


class _Writer:
    """Python lines of the render function, with the bookkeeping of blocks."""

    def __init__(self, name):
        self.name = name
        self.code = []
        self.checks = []  # (line, statement): to find which tag a SyntaxError is in
        self.names = []  # values the expressions read
        self.blocks = []  # [kind, depth outside, depth of its last if, line, loop names]
        self.depth = 1
        self.pending = []  # text not yet yielded (merged into one yield)
        self.line = 0

    def fail(self, line, message):
        raise TemplateError("%s, line %d: %s" % (self.name, line, message))

    def emit(self, text, depth=None):
        self.code.append("    " * (self.depth if depth is None else depth) + text)

    def flush(self):
        if self.pending:
            self.emit("yield %r" % "".join(self.pending))
            self.pending = []

    def statement(self, text, line, check):
        self.flush()
        if line != self.line:
            self.emit("_at[0] = %d" % line)
            self.line = line
        self.emit(text)
        self.checks.append((line, check))

    def uses(self, expression):
        for found in _names(expression):
            if found not in self.names:
                self.names.append(found)

    def open(self, kind, line, loop_names=()):
        self.blocks.append([kind, self.depth - 1, self.depth - 1, line, loop_names])
        self.emit("pass")

    def top(self, kind, word, line):
        if not self.blocks or self.blocks[-1][0] != kind:
            self.fail(line, "{%% %s %%} without {%% %s %%}" % (word, kind))
        self.flush()
        return self.blocks[-1]

    def expression(self, text, line):
        expression, bar, flag = text.rpartition("|")
        function = "_t"
        if not (bar and flag.strip() == "safe"):
            expression, function = text, "_e"
        if not expression.strip():
            self.fail(line, "empty {{ }}")
        self.uses(expression)
        self.statement("yield %s(%s)" % (function, expression.strip()), line, "(%s)" % expression)

    def tag(self, text, line):
        word, _, rest = text.partition(" ")
        rest = rest.strip()
        if word == "if":
            self.uses(rest)
            self.statement("if %s:" % rest, line, "if (%s): pass" % rest)
            self.depth += 1
            self.open("if", line)
        elif word == "elif":
            # else: + if, one level deeper: a statement between if and elif would end the if.
            block = self.top("if", word, line)
            self.uses(rest)
            self.emit("else:", block[2])
            self.depth = block[2] + 1
            self.line = 0
            self.statement("if %s:" % rest, line, "if (%s): pass" % rest)
            block[2] += 1
            self.depth += 1
            self.emit("pass")
        elif word == "else":
            block = self.top("if", word, line)
            self.emit("else:", block[2])
            self.depth = block[2] + 1
            self.line = 0
            self.emit("pass")
        elif word == "endif":
            self.depth = self.top("if", word, line)[1]
            self.blocks.pop()
            self.line = 0
        elif word == "for":
            target, found, iterable = rest.partition(" in ")
            if not found or not target.strip():
                self.fail(line, "{% for %} needs 'name in values'")
            self.uses(iterable)
            check = "for %s in (%s): pass" % (target, iterable)
            self.statement("for %s in %s:" % (target, iterable), line, check)
            self.depth += 1
            self.open("for", line, [n.strip() for n in target.split(",") if n.strip()])
        elif word == "endfor":
            self.depth = self.top("for", word, line)[1]
            self.blocks.pop()
            self.line = 0
        elif word == "include":
            # Loop variables go along: a row template sees its row.
            visible = [n for block in self.blocks for n in block[4]]
            extra = "{%s}" % ", ".join("%r: %s" % (n, n) for n in visible)
            self.statement(
                "yield from _inc(%r, _d, _c, %s)" % (rest.strip("\"'"), extra), line, "pass"
            )
        else:
            self.fail(line, "unknown tag {%% %s %%}" % word)

    def source(self):
        if self.blocks:
            block = self.blocks[-1]
            self.fail(block[3], "{%% %s %%} is never closed" % block[0])
        self.flush()
        head = ["def render(_c, _d, _e, _t, _inc, _at):"]
        head += ["    %s = _c.get(%r)" % (n, n) for n in self.names]
        tail = ["    return", "    yield", "NAME = %r" % self.name]
        return "\n".join(head + self.code + tail) + "\n"


def _translate(source, name):
    writer = _Writer(name)
    for kind, text, line in _tokens(source, name):
        if kind == "text":
            writer.pending.append(text)
        elif kind == "strip":
            # The indentation before a block tag alone on its line goes too.
            pending = writer.pending
            if pending and pending[-1].endswith(text):
                pending[-1] = pending[-1][: len(pending[-1]) - len(text)]
        elif kind == "{{":
            writer.expression(text, line)
        else:
            writer.tag(text, line)
    return writer.source(), writer.checks


def compile_source(source, name="<template>"):
    """The Python module source of a template: it defines render(...) and NAME."""
    text, checks = _translate(source, name)
    _function(text, checks, name)
    return text


def compile_function(source, name="<template>"):
    """The render function of a template's text."""
    text, checks = _translate(source, name)
    return _function(text, checks, name)


def _function(text, checks, name):
    namespace = {}
    try:
        exec(text, namespace)
    except SyntaxError:
        for line, check in checks:
            try:
                exec("def _check():\n    " + check + "\n", {})
            except SyntaxError as exc:
                raise TemplateError("%s, line %d: invalid syntax (%s)" % (name, line, exc))
        raise TemplateError("%s: invalid syntax" % name)
    return namespace["render"]


def module_name(name):
    """The module tools/deploy.py compiles template name to: tpl_ and the name's letters."""
    return "tpl_" + "".join(c if c.isalpha() or c.isdigit() else "_" for c in name)


def render_string(source, name="<string>", directory="templates", **values):
    """A template given as text rendered as one string (compiled at each call)."""
    return "".join(_gathered(_pieces(compile_function(source, name), name, directory, values)))
