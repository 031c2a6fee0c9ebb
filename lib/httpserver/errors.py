# HTTPException and abort are defined in response.py, which the package loads
# anyway (a module of its own costs a board heap); this name stays for code
# that imports them from here.
from .response import HTTPException as HTTPException
from .response import abort as abort


def __getattr__(name):
    # InvalidBody is defined where it is handled, and loads with the first
    # body that cannot be read: a class costs a board heap.
    if name == "InvalidBody":
        from .failures import InvalidBody

        return InvalidBody
    raise AttributeError(name)
