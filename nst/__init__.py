"""Neural style transfer grids.

Three parts, imported one way:

* :mod:`nst.engine` stylises one pair (torch; never imports the review code);
* :mod:`nst.review` summarises, plots and reports results (pandas, matplotlib, Jinja2; no torch);
* :mod:`nst.samples` writes the sample image set.

Shared by all: :mod:`nst.layout` (every path), :mod:`nst.record` (the run record and log),
:mod:`nst.image_files`, :mod:`nst.atomic`, :mod:`nst.errors`; :mod:`nst.planning` plans the
workflow's grid.
"""
from .errors import NSTError

__all__ = ["NSTError"]
