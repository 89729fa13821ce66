"""Data contracts shared by the code and the tests.

``row`` is the spreadsheet row schema, ``api`` the e-CROSS request and response
shapes, and ``report`` the columns and statuses of the reconciliation report.
"""
