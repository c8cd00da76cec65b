"""The bare minimum the service cannot avoid, served the same way (see app.py)."""
