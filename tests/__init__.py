"""Kefu's tests. A package, so that a test directory named like a product package
(tests/marketing, tests/crm_store, tests/knowledge) is imported as tests.<name> and never
shadows the package it tests."""
