"""The bundled problems, installed as package data (``deter init NAME`` writes one out).

No code: this file only makes the folder the package ``deter.problems`` in the wheel.
"""
