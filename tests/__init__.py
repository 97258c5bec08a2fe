"""Test suite; a package so that tests.harness imports the same way from everywhere."""
