"""The lab loop: proposals go out as files, measured results come back by import.

``proposals`` writes an awaiting batch as CSV/XLSX, ``results`` reads and validates an
import file (``cells`` reads each cell) and describes measured candidates that are not in
the campaign's pool (``import --allow-new``), ``importer`` stores it in one transaction.
"""
