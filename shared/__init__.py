"""Common code of the Nachet function app: every function folder calls into it."""

from shared.memory import tune_malloc

# Before any picture is allocated: every function imports this package first.
tune_malloc()
