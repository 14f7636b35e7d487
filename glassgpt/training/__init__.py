"""Training (a package named so that `glassgpt.train` can be the function): learning-rate schedule, engines (torch, glass), checkpoints, the run directory, the loop."""
