"""`python -m instruct.evals.bbh`: see `instruct.evals.bbh.runner`."""

import sys

from instruct.evals.bbh import runner

if __name__ == '__main__':
  sys.exit(runner.main(sys.argv[1:]))
