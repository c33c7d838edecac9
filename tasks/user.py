"""SeqIO registrations of a user's own data, as configured in gin.

Importing this module registers the tasks bound to
`instruct.data.sources.register_user_tasks` (domain JSONL/CSV/TSV tasks and
Alpaca / Self-Instruct files); with no bindings it registers nothing and
reads nothing. Entry points import `MIXTURE_OR_TASK_MODULE` after parsing
gin, so a run's gin file can declare its tasks (see docs/custom_data.md):

  sources.register_user_tasks.tasks = [
      {'name': 'finance_qa', 'path': 'data/fin.jsonl', 'cluster': 'finance',
       'fields': {'question': 'q', 'answer': 'a'},
       'templates': ['Answer the finance question: {question}']}]
  MIXTURE_OR_TASK_NAME = 'user_finance_qa_zs_noopt'
"""

from typing import Dict

from instruct.data import sources

# dataset name -> {variant: SeqIO task name}, as registered at import.
REGISTERED: Dict[str, Dict[str, str]] = sources.register_user_tasks()
