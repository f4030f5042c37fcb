"""msitools: open Windows Installer packages (MSI, MSP, MST, MSM) and their cabinets on any machine.

Entry point: :func:`open_package`.  Errors: :mod:`msitools.errors`.
"""
from msitools.errors import MsiToolsError
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.db.package import Package, open_package

__version__ = "0.1.0"
__all__ = ["open_package", "Package", "MsiToolsError", "Limits", "DEFAULT_LIMITS", "__version__"]
