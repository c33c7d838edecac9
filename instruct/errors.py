"""Errors meant for people."""


class UserError(ValueError):
  """A mistake in what the user asked for (a flag, file, name or path).

  Entry points print its message on one line, without a traceback, and exit
  with status 2.
  """
