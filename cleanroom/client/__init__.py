"""A small HTTP client of the cleanroom API, used by the CLI and the demo."""
