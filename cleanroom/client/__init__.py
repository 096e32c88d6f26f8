"""A small HTTP client of the cleanroom API, used by the CLI and the demo.

>>> from cleanroom.client import ApiClient, ApiError
>>> ApiClient("http://127.0.0.1:8000").base_url
'http://127.0.0.1:8000'
"""

from cleanroom.client.api import REPORT_FORMATS, ApiClient, ReportFormat
from cleanroom.client.errors import ApiError, RunWaitTimeout

__all__ = ["REPORT_FORMATS", "ApiClient", "ApiError", "ReportFormat", "RunWaitTimeout"]
