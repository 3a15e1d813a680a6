"""Common code of the Nachet function app: every function folder calls into it."""
