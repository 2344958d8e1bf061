"""Helpers shared by the test suite: real backends started for tests, never mocks of them.

`tests/` is not a package; pytest puts it on `sys.path` (rootdir-relative "prepend" import mode),
so these modules are imported as `support.<name>`.
"""
