"""The host agent: discover, desired, actual, plan, apply, report."""
