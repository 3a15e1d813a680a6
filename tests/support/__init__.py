"""Helpers shared by the tests, none of them a test module: the local model server, synthetic
seed pictures, image files and data URLs, the folder, feedback, inference and blob-trigger
helpers. Fixtures that several test modules use live in tests/conftest.py."""
