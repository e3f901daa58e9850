"""Training and testing: the trainer loop, its hooks, evaluators and the command-line entry."""
