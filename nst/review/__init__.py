"""Reviewing results: the summary table, loss plots, the contact sheet and the HTML report.

Reads run records and logs (:mod:`nst.record`) at the paths of :mod:`nst.layout`; needs
pandas, matplotlib, Pillow and Jinja2, never torch.
"""
