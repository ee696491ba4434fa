"""Helpers the tests import: upstream stubs, payload builders, config writers, parsers."""
