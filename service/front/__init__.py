"""The HTTP front of ``temix serve``: granian (the default) or gunicorn, chosen by ``TEMIX_FRONT``."""
