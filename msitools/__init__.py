"""msitools: open Windows Installer packages (MSI, MSP, MST, MSM) and their cabinets on any machine.

Entry point: :func:`open_package`.  Errors: :mod:`msitools.errors`.
"""
from msitools.db.package import Package, open_package
from msitools.errors import MsiToolsError
from msitools.limits import DEFAULT_LIMITS, Limits

__version__ = "0.1.0"
__all__ = ["DEFAULT_LIMITS", "Limits", "MsiToolsError", "Package", "__version__", "open_package"]
