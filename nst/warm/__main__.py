"""``python -m nst.warm start``: start the warm-start server ahead of the first job (the
workflow's ``onstart``), so that loading it overlaps the scheduling and any earlier jobs; the
jobs then find it listening. Always exits 0: a job that cannot use it says why itself."""
import sys

from .client import prestart

if sys.argv[1:] != ["start"]:
    sys.exit("usage: python -m nst.warm start")
print(prestart(), file=sys.stderr)
