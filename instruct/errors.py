"""Errors meant for people."""


class UserError(ValueError):
  """A mistake in what the user asked for (a flag, file, name or path).

  Entry points print its message on one line, without a traceback, and exit
  with status 2.
  """


class TrainingStopped(RuntimeError):
  """Training stopped for a reason the user must act on (e.g. a NaN loss).

  Entry points print its message on one line and exit with status 1.
  """
