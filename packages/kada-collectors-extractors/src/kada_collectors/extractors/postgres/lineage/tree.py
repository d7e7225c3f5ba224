"""Walking pglast parse trees."""

from pglast import ast


def flatten(values):
    """The nodes of a (possibly nested) list or tuple."""
    for value in values:
        if isinstance(value, ast.Node):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from flatten(value)


def children(node):
    """The nodes directly below ``node``."""
    for name in type(node).__slots__:
        value = getattr(node, name, None)
        if isinstance(value, ast.Node):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from flatten(value)


def walk(node):
    """``node`` and every node below it."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(children(current))
