"""The HTTP JSON API (Flask): a thin shell over services."""
