"""The local pool: training in this machine's runner processes."""
