"""The `cleanroom` command line (click): a thin shell over services and the HTTP API."""
