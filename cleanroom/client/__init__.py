"""A small HTTP client of the cleanroom API, used by the CLI, the demo and your own code
(docs/client.md). It needs only ``requests`` (and pandas for ``Report.to_pandas()``): importing it
loads nothing of the server.

>>> from cleanroom.client import ApiClient, ApiError
>>> ApiClient("http://127.0.0.1:8000").base_url
'http://127.0.0.1:8000'
"""

from cleanroom.client.api import REPORT_FORMATS, ApiClient, ReportFormat
from cleanroom.client.errors import ApiError, RunWaitTimeout
from cleanroom.client.report import Report

__all__ = ["REPORT_FORMATS", "ApiClient", "ApiError", "Report", "ReportFormat", "RunWaitTimeout"]
