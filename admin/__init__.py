"""Operator commands (`python manage.py …`): run against a deployment's settings. Not deployed."""
