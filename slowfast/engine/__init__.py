"""Training and testing: the loop (``train_loop``), the trainer and its mixed-precision variant
(``trainer``), the hooks (``hooks``, ``step_hooks``, ``multigrid_hook``), evaluators and the one
evaluation loop (``evaluator``), the multi-view test (``tester``) and the command-line entry
(``launch``, ``cli``)."""
