"""The local Functions host: runs this app's function folders as the Azure Functions
host does, for machines where the Core Tools cannot be installed. Not deployed."""
