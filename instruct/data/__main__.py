"""`python -m instruct.data`: see `instruct.data.cli`."""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import logging  # pylint: disable=g-import-not-at-top

from instruct import gin_utils  # pylint: disable=g-import-not-at-top
from instruct.data import cli  # pylint: disable=g-import-not-at-top

if __name__ == '__main__':
  logging.set_verbosity(logging.WARNING)
  sys.exit(gin_utils.run_main(cli.main))
