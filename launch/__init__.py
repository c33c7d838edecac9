"""Launchers: TPU VMs and pod slices, GPU nodes, local runs and sweeps.

`python -m launch.tpu`, `python -m launch.gpu`, `python -m launch.local` and
`python -m launch.sweep`; each prints its plan with `--dry-run`.
"""
