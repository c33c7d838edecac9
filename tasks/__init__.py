"""SeqIO task and mixture registrations. Importing this registers them."""

import tasks.builtin  # pylint: disable=unused-import
