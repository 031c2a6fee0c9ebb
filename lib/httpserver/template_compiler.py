"""The template compiler: template text to the Python source of a generator.

Loaded only to compile a template from its text: on a board, tools/deploy.py
has compiled them already.
"""

from .templates import TemplateError

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


def _tokens(source):
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
            raise TemplateError("line %d: %s is never closed" % (line, opener))
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


def _translate(source, name):
    code = ["def render(_c, _e, _t, _inc, _at):"]
    checks = []  # (line, statement) to find which tag a SyntaxError is in
    names = []
    loop_names = []
    blocks = []
    pending = []  # text not yet emitted (merged into one yield)
    last_line = [0]

    def indent():
        return "    " * (len(blocks) + 1)

    def flush():
        if pending:
            code.append(indent() + "yield %r" % "".join(pending))
            del pending[:]

    def statement(text, line, check):
        flush()
        if line != last_line[0]:
            code.append(indent() + "_at.line = %d" % line)
            last_line[0] = line
        code.append(indent() + text)
        checks.append((line, check))

    def uses(expression):
        for found in _names(expression):
            if found not in names:
                names.append(found)

    for kind, text, line in _tokens(source):
        if kind == "text":
            pending.append(text)
        elif kind == "strip":
            # The indentation before a block tag alone on its line goes too.
            if pending and pending[-1].endswith(text):
                pending[-1] = pending[-1][: len(pending[-1]) - len(text)]
        elif kind == "{{":
            expression, bar, flag = text.rpartition("|")
            if bar and flag.strip() == "safe":
                function = "_t"
            else:
                expression, function = text, "_e"
            if not expression.strip():
                raise TemplateError("%s, line %d: empty {{ }}" % (name, line))
            uses(expression)
            statement("yield %s(%s)" % (function, expression.strip()), line, "(%s)" % expression)
        else:
            word, _, rest = text.partition(" ")
            rest = rest.strip()
            if word == "if":
                uses(rest)
                statement("if %s:" % rest, line, "if (%s): pass" % rest)
                blocks.append("if")
                code.append(indent() + "pass")
            elif word == "elif":
                if not blocks or blocks[-1] != "if":
                    raise TemplateError("%s, line %d: elif outside if" % (name, line))
                flush()
                blocks.pop()
                uses(rest)
                # The line is set inside the condition: a statement would end the if.
                code.append(indent() + "elif _at(%d) or (%s):" % (line, rest))
                checks.append((line, "if (%s): pass" % rest))
                last_line[0] = 0
                blocks.append("if")
                code.append(indent() + "pass")
            elif word == "else":
                if not blocks or blocks[-1] != "if":
                    raise TemplateError("%s, line %d: else outside if" % (name, line))
                flush()
                blocks.pop()
                code.append(indent() + "else:")
                blocks.append("if")
                code.append(indent() + "pass")
            elif word == "for":
                target, found, iterable = rest.partition(" in ")
                if not found:
                    raise TemplateError("%s, line %d: for needs 'name in values'" % (name, line))
                uses(iterable)
                statement(
                    "for %s in %s:" % (target, iterable),
                    line,
                    "for %s in (%s): pass" % (target, iterable),
                )
                blocks.append("for")
                code.append(indent() + "pass")
                loop_names.append([n.strip() for n in target.split(",") if n.strip()])
            elif word in ("endif", "endfor"):
                if not blocks or blocks[-1] != word[3:]:
                    raise TemplateError("%s, line %d: unexpected %s" % (name, line, word))
                flush()
                blocks.pop()
                if word == "endfor":
                    loop_names.pop()
            elif word == "include":
                included = rest.strip("\"'")
                visible = [n for names_ in loop_names for n in names_]
                extra = "{%s}" % ", ".join("%r: %s" % (n, n) for n in visible)
                statement("yield from _inc(%r, _c, %s)" % (included, extra), line, "pass")
            else:
                raise TemplateError("%s, line %d: unknown tag {%% %s %%}" % (name, line, word))
    if blocks:
        raise TemplateError("%s: {%% %s %%} is never closed" % (name, blocks[-1]))
    flush()
    header = ["    %s = _c.get(%r)" % (n, n) for n in names]
    code[1:1] = header
    code.append("    return")
    code.append("    yield")
    code.append("NAME = %r" % name)
    return "\n".join(code) + "\n", checks


def compile_source(source, name="<template>"):
    """The Python module source of a template: it defines render(...) and NAME."""
    text, checks = _translate(source, name)
    _function(text, checks, name)
    return text


def compile_function(source, name="<template>"):
    """The render function of a template's text."""
    return _function(*_translate(source, name), name)


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
