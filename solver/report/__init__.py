"""Presenting results without a terminal: plain-text table rows, figures and the HTML report.

Everything here is library code that the CLI renders through (it never imports the CLI).
matplotlib is imported only when a figure is drawn (``figures.py``), so importing this
package stays cheap.
"""
